## The snapshot file, relative to the pipeline file: a JSON object whose
## "records" array holds every user and org.
path = "directory.json"

## The change journal, relative to the pipeline file: one JSON record per
## line with a strictly increasing "seq". Without it the source has no
## changes to read incrementally.
# journal = "changes.jsonl"
