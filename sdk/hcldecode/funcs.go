package hcldecode

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// EvalContext returns the evaluation context for connector blocks: the
// functions env() and file() (see [Functions]) and no variables. Its
// Functions and Variables maps are never nil, so a caller may add its own
// entries, or wrap it with NewChild.
//
// baseDir is the directory relative file() paths start from, normally the
// directory of the configuration file ("" is the current directory). env
// looks up environment variables; nil means [os.LookupEnv]. Tests and the
// conformance kit pass their own, for instance one that returns a
// placeholder for every name, to check an example without its secrets.
func EvalContext(baseDir string, env func(name string) (string, bool)) *hcl.EvalContext {
	return &hcl.EvalContext{
		Variables: map[string]cty.Value{},
		Functions: Functions(baseDir, env),
	}
}

// Functions returns the functions of [EvalContext], for a caller that builds
// its own context:
//
//   - env(name, [default]) returns the environment variable name. Unset, it
//     returns default when given, and otherwise fails with a diagnostic
//     naming the variable. A variable set to "" is set.
//   - file(path) returns the UTF-8 text of the file at path, relative to
//     baseDir unless absolute, with one trailing newline ("\n" or "\r\n")
//     removed.
func Functions(baseDir string, env func(name string) (string, bool)) map[string]function.Function {
	if env == nil {
		env = os.LookupEnv
	}
	return map[string]function.Function{
		"env":  envFunc(env),
		"file": fileFunc(baseDir),
	}
}

func envFunc(env func(string) (string, bool)) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the value of an environment variable, or the default when it is not set.",
		Params: []function.Parameter{{
			Name:        "name",
			Description: "The environment variable's name.",
			Type:        cty.String,
		}},
		VarParam: &function.Parameter{
			Name:        "default",
			Description: "The value returned when the variable is not set.",
			Type:        cty.String,
		},
		Type:         function.StaticReturnType(cty.String),
		RefineResult: func(b *cty.RefinementBuilder) *cty.RefinementBuilder { return b.NotNull() },
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if len(args) > 2 {
				return cty.UnknownVal(cty.String), function.NewArgErrorf(2, "env takes a variable name and at most one default value")
			}
			name := args[0].AsString()
			if name == "" {
				return cty.UnknownVal(cty.String), function.NewArgErrorf(0, "the environment variable name is empty")
			}
			if v, ok := env(name); ok {
				return cty.StringVal(v), nil
			}
			if len(args) == 2 {
				return args[1], nil
			}
			return cty.UnknownVal(cty.String), function.NewArgErrorf(0,
				"environment variable %q is not set: set it, or give a default as in env(%q, \"value\")", name, name)
		},
	})
}

func fileFunc(baseDir string) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the text of a file, relative to the configuration file's directory, without its trailing newline.",
		Params: []function.Parameter{{
			Name:        "path",
			Description: "The file's path, relative to the configuration file's directory unless absolute.",
			Type:        cty.String,
		}},
		Type:         function.StaticReturnType(cty.String),
		RefineResult: func(b *cty.RefinementBuilder) *cty.RefinementBuilder { return b.NotNull() },
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p := args[0].AsString()
			if p == "" {
				return cty.UnknownVal(cty.String), function.NewArgErrorf(0, "the file path is empty")
			}
			full := p
			if !filepath.IsAbs(full) {
				full = filepath.Join(baseDir, full)
			}
			b, err := os.ReadFile(full)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				where := "the current directory"
				if baseDir != "" {
					where = baseDir
				}
				if filepath.IsAbs(p) {
					return cty.UnknownVal(cty.String), function.NewArgErrorf(0, "%s does not exist", full)
				}
				return cty.UnknownVal(cty.String), function.NewArgErrorf(0,
					"%s does not exist (relative paths start from %s, the configuration file's directory)", full, where)
			case err != nil:
				return cty.UnknownVal(cty.String), function.NewArgErrorf(0, "cannot read file: %v", err)
			case !utf8.Valid(b):
				return cty.UnknownVal(cty.String), function.NewArgErrorf(0, "%s is not UTF-8 text; file() reads text files only", full)
			}
			s := string(b)
			if t, ok := strings.CutSuffix(s, "\r\n"); ok {
				s = t
			} else {
				s = strings.TrimSuffix(s, "\n")
			}
			return cty.StringVal(s), nil
		},
	})
}
