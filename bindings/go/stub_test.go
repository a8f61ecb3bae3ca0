//go:build !(sd && cgo)

package sdr

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// The stub compiles everywhere and says clearly why nothing works.
func TestStubConstructorsReturnErrNotBuilt(t *testing.T) {
	g, err := NewGeneratorFromConfig()
	if g != nil || !errors.Is(err, ErrNotBuilt) || !strings.Contains(err.Error(), "built without the sd tag/cgo") {
		t.Fatalf("NewGeneratorFromConfig() = %v, %v", g, err)
	}
	var p Provider = &Generator{}
	if p.IsReady() {
		t.Error("stub ready")
	}
	if _, err := p.Generate(context.Background(), Request{Prompt: "x"}); !errors.Is(err, ErrNotBuilt) {
		t.Errorf("Generate: %v", err)
	}
	if _, err := LoadModel("m", "", ""); !errors.Is(err, ErrNotBuilt) {
		t.Errorf("LoadModel: %v", err)
	}
	if IsCUDAAvailable() || !strings.Contains(BackendInfo(), "built without") {
		t.Error("backend info")
	}
	if d := DefaultGenerateParams(); d.Width != 512 || d.Sampler != "dpm++2m" {
		t.Errorf("defaults %+v", d)
	}
}
