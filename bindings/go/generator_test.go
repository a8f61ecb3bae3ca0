//go:build sd && cgo

package sdr

// The Generator from the environment: the local engine end to end on the tiny model, the load
// errors, nothing configured, cancellation through the context, and the error vocabulary.

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// configVars are every variable NewGeneratorFromConfig reads; each test sets its own.
var configVars = []string{"SD_MODEL_PATH", "SD_VAE_PATH", "SD_TOKENIZER_PATH", "SD_IMAGE_SIZE", "SD_INFERENCE_STEPS",
	"SD_GUIDANCE_SCALE", "SD_NEGATIVE_PROMPT", "SD_SAMPLER", "SD_SCHEDULER", "SD_TIMEOUT_SECONDS", "SD_MAX_CONCURRENT",
	"SD_VAE_TILING", "SD_FREE_PARAMS", "SD_THREADS", "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY",
	"AZURE_OPENAI_DEPLOYMENT", "AZURE_OPENAI_API_VERSION", "OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_IMAGE_MODEL"}

// setEnv clears every configuration variable, then sets vars, for the test's duration.
func setEnv(t *testing.T, vars map[string]string) {
	t.Helper()
	for _, v := range configVars {
		t.Setenv(v, "") // "" means unset for every variable; t.Setenv restores the old value
	}
	for k, v := range vars {
		t.Setenv(k, v)
	}
}

func localGenerator(t *testing.T) *Generator {
	t.Helper()
	if setupErr != nil {
		t.Fatalf("setup: %v", setupErr)
	}
	setEnv(t, map[string]string{"SD_MODEL_PATH": testModelPath, "SD_TOKENIZER_PATH": testMergesPath,
		"SD_IMAGE_SIZE": "64", "SD_INFERENCE_STEPS": "2",
		// A day: the engine's own timeout projection must not beat the ctx deadline tested below.
		"SD_TIMEOUT_SECONDS": "86400"})
	g, err := NewGeneratorFromConfig()
	if err != nil {
		t.Fatalf("NewGeneratorFromConfig: %v", err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

func TestGeneratorLocalEndToEnd(t *testing.T) {
	g := localGenerator(t)
	var p Provider = g // the application's interface
	if !p.IsReady() || g.Name() != "local" {
		t.Fatalf("IsReady %v, Name %q", p.IsReady(), g.Name())
	}
	if sel := g.Selection(); len(sel) != 1 || !strings.HasPrefix(sel[0], "local: SD_MODEL_PATH ") {
		t.Errorf("Selection() = %q", sel)
	}
	steps := 0
	res, err := p.Generate(context.Background(), Request{Prompt: "a photo of a cat", N: 2, Seed: Ptr(int64(9)),
		Progress: func(Progress) error { steps++; return nil }})
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if res.Provider != "local" || len(res.Images) != 2 || steps != 4 {
		t.Fatalf("provider %q, %d images, %d steps", res.Provider, len(res.Images), steps)
	}
	for i, img := range res.Images {
		if err := img.Validate(); err != nil {
			t.Errorf("image %d: %v", i, err)
		}
		if info, err := ValidatePNG(img.PNG, 64, 64); err != nil || info.Width != 64 {
			t.Errorf("image %d: %v %+v", i, err, info)
		}
		if img.Seed != 9+int64(i) || !strings.Contains(img.Infotext, "Steps: 2,") {
			t.Errorf("image %d: seed %d, infotext %q", i, img.Seed, img.Infotext)
		}
	}
	// The error vocabulary: an invalid field, a progress error, a cancelled context.
	if _, err := g.Generate(context.Background(), Request{Prompt: "x", Width: 100, Height: 100}); !errors.Is(err, ErrInvalidParams) {
		t.Errorf("width 100: %v", err)
	}
	stop := errors.New("enough")
	_, err = g.Generate(context.Background(), Request{Prompt: "x", Progress: func(Progress) error { return stop }})
	if !errors.Is(err, ErrCancelled) || !errors.Is(err, stop) {
		t.Errorf("progress error: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.Generate(ctx, Request{Prompt: "x"}); !errors.Is(err, ErrCancelled) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: %v", err)
	}
	// A deadline that passes during a long generation: ErrGenerationTimeout, unwrapping to it.
	dctx, dcancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer dcancel()
	start := time.Now()
	_, err = g.Generate(dctx, Request{Prompt: "x", Width: 512, Height: 512, Steps: 1000})
	if !errors.Is(err, ErrGenerationTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("deadline: %v", err)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("the deadline took %v to stop the generation", took)
	}
	g.Close()
	if g.IsReady() || g.Name() != "" {
		t.Error("a closed generator is ready")
	}
	if _, err := g.Generate(context.Background(), Request{Prompt: "x"}); !errors.Is(err, ErrInvalidParams) {
		t.Errorf("closed: %v", err)
	}
}

func TestGeneratorSelectionErrors(t *testing.T) {
	if setupErr != nil {
		t.Fatalf("setup: %v", setupErr)
	}
	setEnv(t, nil)
	if _, err := NewGeneratorFromConfig(); !errors.Is(err, ErrInvalidParams) ||
		!strings.Contains(err.Error(), "no image provider configured") {
		t.Errorf("nothing configured: %v", err)
	}
	setEnv(t, map[string]string{"SD_MODEL_PATH": "/nonexistent/sdr-go/model.safetensors"})
	if _, err := NewGeneratorFromConfig(); !errors.Is(err, ErrModelNotFound) {
		t.Errorf("missing model: %v", err)
	}
	corrupt := filepath.Join(t.TempDir(), "corrupt.safetensors")
	if err := os.WriteFile(corrupt, []byte("not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	setEnv(t, map[string]string{"SD_MODEL_PATH": corrupt})
	if _, err := NewGeneratorFromConfig(); !errors.Is(err, ErrModelLoadFailed) {
		t.Errorf("corrupt model: %v", err)
	}
	// With a cloud provider configured the broken model is skipped (nothing is sent here).
	setEnv(t, map[string]string{"SD_MODEL_PATH": corrupt, "OPENAI_API_KEY": "sk-go-test",
		"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"})
	g, err := NewGeneratorFromConfig()
	if err != nil {
		t.Fatalf("fallback: %v", err)
	}
	defer g.Close()
	if g.Name() != "openai" || !g.IsReady() {
		t.Errorf("fallback provider %q", g.Name())
	}
	if sel := strings.Join(g.Selection(), "\n"); !strings.Contains(sel, "local failed (model_load_failed)") ||
		strings.Contains(sel, "sk-go-test") {
		t.Errorf("Selection() = %q", sel)
	}
	// dall-e-3 takes one image per request: refused before anything is sent.
	if _, err := g.Generate(context.Background(), Request{Prompt: "x", N: 2}); !errors.Is(err, ErrInvalidParams) {
		t.Errorf("n=2 on dall-e-3: %v", err)
	}
}

func TestErrorVocabularyMatchesTheLibrary(t *testing.T) {
	sentinels := []*Error{nil, ErrModelLoadFailed, ErrModelNotFound, ErrInvalidParams, ErrGenerationFailed, ErrOutOfMemory,
		ErrGenerationTimeout, ErrAcquireTimeout, ErrCancelled, ErrPoolClosed, ErrOutOfVRAM, ErrUnavailable,
		ErrAuthFailed, ErrContentPolicy, ErrRateLimited, ErrQuotaExhausted, ErrProviderError, ErrIO,
		ErrQueueFull, ErrNotFound, ErrGone, ErrUnauthorized, ErrPayloadTooLarge}
	for c := CodeOK; c <= CodePayloadTooLarge; c++ {
		if got := C_errorCodeName(c); c.String() != got {
			t.Errorf("code %d: Go name %q, C name %q", int(c), c.String(), got)
		}
		if c > CodeOK && sentinels[c].Code != c {
			t.Errorf("sentinel for %v has code %v", c, sentinels[c].Code)
		}
	}
	if Code(99).String() != "unknown" {
		t.Error("unknown code")
	}
	if !sameParams(DefaultGenerateParams(), stubDefaultParams) {
		t.Errorf("the stub's defaults %+v differ from the library's %+v", stubDefaultParams, DefaultGenerateParams())
	}
}
