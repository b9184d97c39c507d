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
//	  event_retention = "30d"            # finished sync events kept this long
//	  keys_encryption_key = env("MIDSTREAM_KEYS_KEY") # 64 hex: encrypts the hub's signing keys
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
// event_retention (days such as "30d", a duration such as "720h", or "0"
// to keep every event) defaults to [DefaultEventRetention]: each target's
// delivery then prunes older finished events, keeping each object's last
// one.
// keys_encryption_key (64 hex characters, from env() or file()) encrypts
// the signing keys the hub keeps for callback targets with signature =
// "jws" (package core/keys); without it such targets are refused.
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
// (outbound):
//
//	mapping "user" {
//	  function = file("user.js")              # optional: (record, object) => ({ ... })
//	  attribute "displayName" { from = "name" }   # an input attribute
//	  attribute "company"     { value = "星河集团" } # a constant
//	  attribute "userName" {
//	    script      = "pinyinName(record.name)" # a JavaScript expression
//	    label       = "Account"                 # the target attribute's definition:
//	    description = "The login name."
//	    type        = "string"                  # string, integer, boolean, datetime, enum (with options), string_list
//	    required    = true
//	    unique      = true
//	    on_conflict = "suffix"                  # "fail" (default) or "suffix": zhang.wei2
//	    sensitive   = false
//	    mode        = "create_only"             # "always" (default) or "create_only"
//	    default     = "n/a"                     # replaces an empty value
//	  }
//	}
//
// Each attribute block takes its value from one of from, value and script,
// or, in a mapping with a function, declares only the definition of an
// attribute the function computes. A script or function is written inline
// (a quoted string or a heredoc) or read with file("name.js"). Scripts are
// compiled when the pipeline loads; a syntax error is reported at its
// position in the .hcl (or .js) file. A source's attribute blocks may
// declare type, options and default, not the rest of a definition. Every
// mistake in a definition is reported at the setting at fault. Without a
// mapping for a kind, attributes pass through unchanged. The language,
// the helpers scripts can call and the definitions' semantics are
// documented in package mapping.
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
