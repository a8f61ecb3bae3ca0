//go:build sd && cgo

package sdr

// TAESD previews and decoding (ModelOptions.TAESDPath, GenerateParams.Preview / PreviewEvery /
// TAESDDecode) on the tiny model and a random TAESD written by `sdr make-test-taesd`.

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// previewPool loads the tiny model with a fresh random TAESD (taesd true) or without one.
func previewPool(t *testing.T, taesd bool) *Pool {
	t.Helper()
	if setupErr != nil {
		t.Fatalf("setup: %v", setupErr)
	}
	opts := ModelOptions{Path: testModelPath, Tokenizer: testMergesPath}
	if taesd {
		opts.TAESDPath = filepath.Join(t.TempDir(), "taesd.safetensors")
		bin := envOr("SDR_BIN", "../../build/bin/sdr")
		if out, err := exec.Command(bin, "make-test-taesd", opts.TAESDPath).CombinedOutput(); err != nil {
			t.Fatalf("%s make-test-taesd: %v: %s", bin, err, out)
		}
	}
	model, err := LoadModelWithOptions(opts)
	if err != nil {
		t.Fatalf("LoadModelWithOptions: %v", err)
	}
	pool, err := NewPool(model, 1)
	model.Close()
	if err != nil {
		t.Fatalf("NewPool: %v", err)
	}
	t.Cleanup(func() { pool.Close() })
	return pool
}

func previewParams(seed int64) GenerateParams {
	p := DefaultGenerateParams()
	p.Prompt = "a photo of a cat"
	p.Width, p.Height = 72, 64 // not square: a transposed preview shows
	p.Steps = 4
	p.Seed = seed
	return p
}

func TestPreviewEveryNSteps(t *testing.T) {
	c := acquire(t, previewPool(t, true))
	p := previewParams(11)
	p.BatchCount = 2
	p.PreviewEvery = 2
	var got []Preview
	progress := 0
	p.Progress = func(Progress) error { progress++; return nil }
	p.Preview = func(pv Preview) error { got = append(got, pv); return nil }
	if _, err := c.Generate(p); err != nil {
		t.Fatalf("Generate: %v", err)
	}
	want := [][2]int{{0, 2}, {0, 4}, {1, 2}, {1, 4}} // (image, step)
	if len(got) != len(want) {
		t.Fatalf("%d previews, want %d", len(got), len(want))
	}
	for i, pv := range got {
		if pv.Image != want[i][0] || pv.Step != want[i][1] || pv.TotalSteps != 4 {
			t.Errorf("preview %d: image %d step %d/%d, want image %d step %d/4", i, pv.Image, pv.Step,
				pv.TotalSteps, want[i][0], want[i][1])
		}
		if b := pv.RGBA.Bounds(); b.Dx() != 72 || b.Dy() != 64 {
			t.Errorf("preview %d is %dx%d, want 72x64", i, b.Dx(), b.Dy())
		}
		first := pv.RGBA.Pix[:3]
		flat := true
		for j := 0; j+3 <= len(pv.RGBA.Pix); j += 4 {
			if !bytes.Equal(pv.RGBA.Pix[j:j+3], first) {
				flat = false
				break
			}
		}
		if flat {
			t.Errorf("preview %d is one colour", i)
		}
	}
	// The copies stay valid after the callback: two images' previews differ.
	if bytes.Equal(got[1].RGBA.Pix, got[3].RGBA.Pix) {
		t.Errorf("the previews of images 0 and 1 are the same bytes (a reused buffer?)")
	}
	if progress != 8 {
		t.Errorf("Progress called %d times, want 8", progress)
	}
}

func TestPreviewErrorCancels(t *testing.T) {
	c := acquire(t, previewPool(t, true))
	stop := errors.New("seen enough")
	calls := 0
	p := previewParams(3)
	p.Preview = func(Preview) error { calls++; return stop }
	_, err := c.Generate(p)
	if !errors.Is(err, ErrCancelled) || !errors.Is(err, stop) {
		t.Fatalf("Generate: %v, want ErrCancelled wrapping %v", err, stop)
	}
	if calls != 1 {
		t.Errorf("Preview called %d times after asking to stop", calls)
	}
	p.Preview = nil
	if imgs, err := c.Generate(p); err != nil || len(imgs) != 1 {
		t.Fatalf("Generate after a cancel: %v", err)
	}
}

func TestTAESDDecodeDiffersFromVAE(t *testing.T) {
	c := acquire(t, previewPool(t, true))
	p := previewParams(21)
	vae, err := c.Generate(p)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	p.TAESDDecode = true
	tiny, err := c.Generate(p)
	if err != nil {
		t.Fatalf("Generate (TAESDDecode): %v", err)
	}
	if tiny[0].Width != 72 || tiny[0].Height != 64 {
		t.Fatalf("TAESD image is %dx%d", tiny[0].Width, tiny[0].Height)
	}
	if bytes.Equal(vae[0].RGB, tiny[0].RGB) {
		t.Errorf("TAESDDecode gave the VAE's image")
	}
}

func TestPreviewNeedsTAESD(t *testing.T) {
	c := acquire(t, previewPool(t, false))
	p := previewParams(1)
	called := false
	p.Preview = func(Preview) error { called = true; return nil }
	_, err := c.Generate(p)
	if !errors.Is(err, ErrInvalidParams) || !strings.Contains(err.Error(), "preview:") ||
		!strings.Contains(err.Error(), "taesd_path") {
		t.Errorf("Preview without a TAESD: %v, want ErrInvalidParams naming preview", err)
	}
	if called {
		t.Errorf("Preview called without a TAESD")
	}
	p.Preview = nil
	p.TAESDDecode = true
	if _, err := c.Generate(p); !errors.Is(err, ErrInvalidParams) || !strings.Contains(err.Error(), "taesd_decode") {
		t.Errorf("TAESDDecode without a TAESD: %v, want ErrInvalidParams naming taesd_decode", err)
	}
}

func TestMissingTAESDFile(t *testing.T) {
	if setupErr != nil {
		t.Fatalf("setup: %v", setupErr)
	}
	missing := filepath.Join(t.TempDir(), "no_such_taesd.safetensors")
	_, err := LoadModelWithOptions(ModelOptions{Path: testModelPath, Tokenizer: testMergesPath, TAESDPath: missing})
	if !errors.Is(err, ErrModelNotFound) || !strings.Contains(err.Error(), "no_such_taesd.safetensors") {
		t.Errorf("a missing TAESD: %v, want ErrModelNotFound naming the file", err)
	}
}
