package mapping_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/midstream-io/midstream/mapping"
	"github.com/midstream-io/midstream/sdk"
)

func Example() {
	m, err := mapping.Compile(mapping.Spec{
		Kind: sdk.KindUser,
		Attributes: []mapping.Attribute{
			{Name: "display_name", From: "name"},
			{Name: "userid", Script: `record.email.split("@")[0].toLowerCase()`,
				Pos: mapping.Pos{Filename: "pipeline.hcl", Line: 12, Column: 15}},
			{Name: "nickname", Script: `record.nickname.trim()`,
				Pos: mapping.Pos{Filename: "pipeline.hcl", Line: 13, Column: 15}},
		},
	}, mapping.Options{Timeout: time.Second})
	if err != nil {
		fmt.Println(err)
		return
	}
	in := mapping.Input{
		Kind: sdk.KindUser,
		ID:   "E1001",
		Attributes: sdk.Attributes{
			"name":     sdk.String("张伟"),
			"email":    sdk.String("Wei.Zhang@example.com"),
			"nickname": sdk.String(" 小伟 "),
		},
		Now: time.Date(2026, 5, 6, 0, 0, 0, 0, time.UTC),
	}
	out, err := m.Apply(context.Background(), in)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, name := range out.Names() {
		fmt.Printf("%s = %v\n", name, out[name])
	}

	// Without a nickname, the script throws: the error names the
	// attribute, its position in pipeline.hcl and the object's id.
	delete(in.Attributes, "nickname")
	_, err = m.Apply(context.Background(), in)
	var se *mapping.ScriptError
	if errors.As(err, &se) {
		fmt.Println(se)
	}
	// Output:
	// display_name = 张伟
	// nickname = 小伟
	// userid = wei.zhang
	// pipeline.hcl:13:22: attribute nickname of E1001: TypeError: Cannot read property 'trim' of undefined or null
}
