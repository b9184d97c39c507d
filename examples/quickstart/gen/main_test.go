package main

import (
	"bytes"
	"os"
	"testing"
)

// TestCommittedFiles checks that hr.csv and hr-v2.csv are what the
// generator writes: regenerate them with
//
//	go run ./examples/quickstart/gen -dir examples/quickstart
func TestCommittedFiles(t *testing.T) {
	v1, v2, _ := generate()
	for name, want := range map[string][]byte{"../hr.csv": v1, "../hr-v2.csv": v2} {
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not what the generator writes: run go run ./examples/quickstart/gen -dir examples/quickstart", name)
		}
	}
}
