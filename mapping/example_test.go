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

// holders is a Uniqueness over a map, as the engine's is over the
// target's links.
type holders map[string]string

func (h holders) Reserve(_ context.Context, r mapping.Reservation) (string, error) {
	key := r.Attribute + "=" + r.Value
	if holder, ok := h[key]; ok && holder != r.ID {
		return holder, nil
	}
	h[key] = r.ID
	return "", nil
}

// A target's mapping with attribute definitions: Run converts the types,
// checks required values, reserves unique ones and says which it reserved;
// Mask hides sensitive values from what is shown or stored.
func ExampleMapping_Run() {
	m, err := mapping.Compile(mapping.Spec{
		Kind:  sdk.KindUser,
		Stage: mapping.Outbound,
		Attributes: []mapping.Attribute{
			{Name: "userName", Script: `pinyinName(record.name)`, Required: true,
				Unique: true, OnConflict: mapping.ConflictSuffix, Mode: mapping.ModeCreateOnly},
			{Name: "level", From: "grade", Type: mapping.TypeInteger, Default: ptr(sdk.Int(1))},
			{Name: "password", Script: `sha256(object.id).slice(0, 12)`, Sensitive: true, Mode: mapping.ModeCreateOnly},
		},
	}, mapping.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	taken := holders{"userName=zhang.wei": "hub-1"}
	in := mapping.Input{
		Kind:       sdk.KindUser,
		ID:         "hub-2",
		Target:     "app",
		Attributes: sdk.Attributes{"name": sdk.String("章伟"), "grade": sdk.String("3")},
		Uniqueness: taken,
	}
	res, err := m.Run(context.Background(), in)
	if err != nil {
		fmt.Println(err)
		return
	}
	shown := m.Mask(res.Attributes)
	for _, name := range shown.Names() {
		fmt.Printf("%s = %#v\n", name, shown[name])
	}
	fmt.Println("reserved:", res.Reserved)

	// An update, with what the object holds: the create_only attributes
	// are left out, and nothing is reserved again.
	in.Update, in.Reserved = true, res.Reserved
	res, _ = m.Run(context.Background(), in)
	fmt.Println("update:", res.Attributes.Names(), res.Reserved)

	// A required attribute left empty.
	in.Update, in.Attributes = false, sdk.Attributes{}
	_, err = m.Run(context.Background(), in)
	fmt.Println(errors.Is(err, mapping.ErrRequired), err)
	// Output:
	// level = sdk.Int(3)
	// password = sdk.String("******")
	// userName = sdk.String("zhang.wei2")
	// reserved: map[userName:zhang.wei2]
	// update: [level] map[userName:zhang.wei2]
	// true attribute userName of hub-2: the attribute is required, but the mapping left it empty; give the object a value upstream, or the attribute a default
}

func ptr(v sdk.Value) *sdk.Value { return &v }
