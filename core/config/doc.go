// Package config loads a Midstream pipeline: the HCL files that declare its
// sources, its targets, the external plugins they use and the pipeline's own
// settings.
//
// # Files
//
// A pipeline is one file, or every *.hcl file of a directory, read in name
// order and merged: a source may be declared in one file and the target it
// feeds in another. Blocks keep their file order.
//
// # Blocks
//
//	pipeline "quickstart" {             # optional, at most one
//	  http_address    = "127.0.0.1:8470" # midstream run's HTTP server
//	  mapping_timeout = "1s"             # CPU time limit of one script call
//	}
//
//	plugin "jsonfile" {                 # an external connector
//	  path   = "plugins/jsonfile-plugin" # relative to the pipeline's directory
//	  sha256 = "…64 hex characters…"     # the binary's checksum: sha256sum PATH
//	  env    = ["JSONFILE_TOKEN"]        # host variables the plugin may see
//	}
//
//	source "csv" "hr" {                 # connector, source name
//	  schedule             = "@every 15m"   # csv has no change feed: a full read
//	  max_deletion_percent = 10
//	  max_deletions        = 0
//	  mapping "user" {
//	    attribute "display_name" { from = "name" }
//	    attribute "email"        { script = "record.email.toLowerCase()" }
//	  }
//	  path      = "hr.csv"              # the connector's own configuration
//	  id_column = "工号"
//	}
//
//	target "callback" "app" {           # connector, target name
//	  sources       = ["hr"]
//	  schedule      = "@every 1m"
//	  full_schedule = "0 3 * * 0"
//	  concurrency   = 4
//	  max_attempts  = 5
//	  rate_limit    = 0
//	  mapping "user" {
//	    attribute "userName" { from = "employee_id" }
//	  }
//	  url   = "http://127.0.0.1:8471/callback"
//	  token = env("APP_TOKEN")
//	}
//
// The pipeline block names the pipeline (without one, the name is the
// directory's, or the file's without its extension). http_address defaults
// to [DefaultHTTPAddress], mapping_timeout to [DefaultMappingTimeout].
//
// A source or target block's first label names its connector: a built-in
// (see `midstream plugins`) or the name of a plugin block. Its second label
// names the source or target, unique among sources (or targets).
//
// The attributes and blocks listed above are the pipeline's own ("meta")
// settings; every other attribute of a source or target block is the
// connector's configuration, decoded against the schema the connector
// declares (package sdk/hcldecode), so a built-in connector and an external
// plugin are checked alike. A connector may not declare a field with a meta
// name: the pipeline reserves schedule, full_schedule, max_deletion_percent,
// max_deletions, sources, concurrency, max_attempts, rate_limit and mapping.
//
// Schedules are cron expressions: five fields ("0 2 * * *"), or a
// descriptor (@hourly, @daily, @weekly, @monthly, @yearly, "@every 15m"),
// in local time unless prefixed with CRON_TZ=Zone. A source's schedule runs
// its incremental read, or its full read when the connector has no change
// feed; full_schedule runs a full read of an incremental source (on a
// full-only source it is redundant, and a warning says so). A target's
// schedule delivers what is pending; its full_schedule runs a target full
// sync.
//
// A mapping block per kind ("user" or "org") maps the records of a source
// to hub objects (inbound), or hub objects to a target's attributes
// (outbound). Each attribute block takes its value from an input attribute
// (from) or from a JavaScript expression (script), written inline or read
// with file("name.js"). Scripts are compiled when the pipeline loads; a
// syntax error is reported at its position in the .hcl (or .js) file.
// Without a mapping for a kind, attributes pass through unchanged.
//
// Values may call env("NAME"[, "default"]) and file("path"); see
// [hcldecode.EvalContext].
//
// # Diagnostics
//
// [Load] never stops at the first problem: it returns every error and
// warning it finds, sorted by position, each located in the user's file,
// with a Detail that says how to fix it. Print them with
// hcl.NewDiagnosticTextWriter and [Pipeline.Files].
package config
