//go:build sd && cgo

package sdr

// Tests on the tiny random SD 1.x model, written by `sdr make-test-model` into a temp folder.
// Environment (ctest sets the first two):
//   SDR_BIN          the sdr program (default ../../build/bin/sdr)
//   SDR_TEST_MERGES  CLIP merges.txt (default ../../../shared/data/clip-vit-l-14-merges.txt)
//   SDR_TEST_MODEL   an existing model file to use instead

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var (
	testModelPath  string
	testMergesPath string
	setupErr       error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sdr_go_test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	setupErr = setup(dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func setup(dir string) error {
	testMergesPath = envOr("SDR_TEST_MERGES", "../../../shared/data/clip-vit-l-14-merges.txt")
	if _, err := os.Stat(testMergesPath); err != nil {
		return fmt.Errorf("CLIP merges (SDR_TEST_MERGES): %w", err)
	}
	if p := os.Getenv("SDR_TEST_MODEL"); p != "" {
		testModelPath = p
		return nil
	}
	bin := envOr("SDR_BIN", "../../build/bin/sdr")
	testModelPath = filepath.Join(dir, "tiny.safetensors")
	out, err := exec.Command(bin, "make-test-model", testModelPath).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s make-test-model: %v: %s", bin, err, out)
	}
	return nil
}

// newPool loads the tiny model and returns a pool of n contexts (closed at the end of the test).
func newPool(t *testing.T, n int) *Pool {
	t.Helper()
	if setupErr != nil {
		t.Fatalf("setup: %v", setupErr)
	}
	model, err := LoadModel(testModelPath, testMergesPath, "")
	if err != nil {
		t.Fatalf("LoadModel: %v", err)
	}
	pool, err := NewPool(model, n)
	model.Close() // the pool keeps the weights alive
	if err != nil {
		t.Fatalf("NewPool: %v", err)
	}
	t.Cleanup(func() { pool.Close() })
	return pool
}

func acquire(t *testing.T, pool *Pool) *Context {
	t.Helper()
	c, err := pool.AcquireTimeout(time.Second)
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	t.Cleanup(c.Release)
	return c
}

func smallParams(seed int64) GenerateParams {
	p := DefaultGenerateParams()
	p.Prompt = "a photo of a cat"
	p.Width, p.Height, p.Steps, p.Seed = 64, 64, 2, seed
	return p
}

func TestInfo(t *testing.T) {
	if Version() == "" {
		t.Error("empty version")
	}
	cuda := "CUDA: not available ("
	if IsCUDAAvailable() {
		cuda = "CUDA: available ("
	}
	if info := SystemInfo(); !strings.Contains(info, "OpenBLAS") || !strings.Contains(info, cuda) {
		t.Errorf("SystemInfo() = %q", info)
	}
	if b := BackendInfo(); !strings.Contains(b, "SD_MAX_CONCURRENT") || IsCUDAAvailable() == strings.Contains(b, "cuda: not available") {
		t.Errorf("BackendInfo() = %q (IsCUDAAvailable %v)", b, IsCUDAAvailable())
	}
	d := DefaultGenerateParams()
	if d.Width != 512 || d.Height != 512 || d.Steps != 20 || d.CFGScale != 7.5 || d.Sampler != "dpm++2m" ||
		d.Scheduler != "discrete" || d.Seed != -1 || d.RNG != "cuda" || d.ClipSkip != 1 || d.BatchCount != 1 ||
		d.VAETiling {
		t.Errorf("DefaultGenerateParams() = %+v", d)
	}
	if CodeAcquireTimeout.String() != "acquire_timeout" {
		t.Errorf("CodeAcquireTimeout.String() = %q", CodeAcquireTimeout.String())
	}
}

func TestMissingModel(t *testing.T) {
	_, err := LoadModel("/nonexistent/sdr-go-test/model.safetensors", "", "")
	if !errors.Is(err, ErrModelNotFound) {
		t.Fatalf("LoadModel(missing) = %v, want ErrModelNotFound", err)
	}
	var se *Error
	if !errors.As(err, &se) || !strings.Contains(se.Message, "/nonexistent/sdr-go-test") {
		t.Errorf("error %v does not name the path", err)
	}
}

func TestGenerate(t *testing.T) {
	c := acquire(t, newPool(t, 2))
	a, err := c.Generate(smallParams(42))
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if len(a) != 1 {
		t.Fatalf("got %d images, want 1", len(a))
	}
	if a[0].Width != 64 || a[0].Height != 64 || len(a[0].RGB) != 64*64*3 || a[0].Seed != 42 {
		t.Fatalf("image %dx%d, %d bytes, seed %d", a[0].Width, a[0].Height, len(a[0].RGB), a[0].Seed)
	}
	b, err := c.Generate(smallParams(42))
	if err != nil {
		t.Fatalf("Generate again: %v", err)
	}
	if !bytes.Equal(a[0].RGB, b[0].RGB) {
		t.Error("the same seed gave different bytes")
	}
	other, err := c.Generate(smallParams(43))
	if err != nil {
		t.Fatalf("Generate seed 43: %v", err)
	}
	if bytes.Equal(a[0].RGB, other[0].RGB) {
		t.Error("seeds 42 and 43 gave the same bytes")
	}

	buf := make([]byte, 64*64*3)
	seed, err := c.GenerateInto(smallParams(42), buf)
	if err != nil || seed != 42 || !bytes.Equal(buf, a[0].RGB) {
		t.Errorf("GenerateInto: seed %d, err %v, equal %v", seed, err, bytes.Equal(buf, a[0].RGB))
	}
	if _, err := c.GenerateInto(smallParams(42), buf[:100]); !errors.Is(err, ErrInvalidParams) {
		t.Errorf("GenerateInto(small buffer) = %v, want ErrInvalidParams", err)
	}

	// PNG: the signature, and a standard decoder reads back the same pixels.
	text, err := Infotext(smallParams(42), a[0].Seed)
	if err != nil || !strings.Contains(text, "Seed: 42") || !strings.Contains(text, "Size: 64x64") {
		t.Errorf("Infotext = %q, %v", text, err)
	}
	data, err := EncodePNG(a[0], text)
	if err != nil {
		t.Fatalf("EncodePNG: %v", err)
	}
	if !bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) || !bytes.Contains(data, []byte("parameters")) {
		t.Errorf("PNG bytes %q...", data[:16])
	}
	decoded, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("png.Decode: %v", err)
	}
	if got := decoded.Bounds(); got.Dx() != 64 || got.Dy() != 64 {
		t.Fatalf("decoded bounds %v", got)
	}
	r, g, bl, _ := decoded.At(5, 7).RGBA()
	i := (7*64 + 5) * 3
	if byte(r>>8) != a[0].RGB[i] || byte(g>>8) != a[0].RGB[i+1] || byte(bl>>8) != a[0].RGB[i+2] {
		t.Errorf("decoded pixel (5,7) differs")
	}
	if rgba := a[0].RGBA(); rgba.Pix[i/3*4+1] != a[0].RGB[i+1] || rgba.Pix[i/3*4+3] != 255 {
		t.Errorf("RGBA pixel differs")
	}
}

func TestBatch(t *testing.T) {
	c := acquire(t, newPool(t, 1))
	p := smallParams(7)
	p.BatchCount = 2
	imgs, err := c.Generate(p)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if len(imgs) != 2 {
		t.Fatalf("got %d images, want 2", len(imgs))
	}
	if imgs[0].Seed != 7 || imgs[1].Seed != 8 || bytes.Equal(imgs[0].RGB, imgs[1].RGB) {
		t.Errorf("seeds %d, %d (want 7, 8), identical pixels: %v", imgs[0].Seed, imgs[1].Seed,
			bytes.Equal(imgs[0].RGB, imgs[1].RGB))
	}
}

func TestProgressAndStop(t *testing.T) {
	c := acquire(t, newPool(t, 1))
	var steps []Progress
	p := smallParams(5)
	p.Steps = 3
	p.Progress = func(pr Progress) error { steps = append(steps, pr); return nil }
	if _, err := c.Generate(p); err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if len(steps) != 3 || steps[2].Step != 3 || steps[2].TotalSteps != 3 || steps[0].Image != 0 {
		t.Errorf("progress calls: %+v", steps)
	}

	stopErr := errors.New("enough")
	calls := 0
	p.Progress = func(Progress) error { calls++; return stopErr }
	_, err := c.Generate(p)
	if !errors.Is(err, ErrCancelled) || !errors.Is(err, stopErr) {
		t.Errorf("stop from progress = %v, want ErrCancelled wrapping the callback's error", err)
	}
	if calls != 1 {
		t.Errorf("progress called %d times after asking to stop", calls)
	}

	// A panic in the callback stops the generation and comes back out of Generate.
	p.Progress = func(Progress) error { panic("boom") }
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want boom", r)
			}
		}()
		c.Generate(p)
		t.Error("Generate did not re-panic")
	}()

	// The context is clean afterwards.
	p.Progress = nil
	if _, err := c.Generate(p); err != nil {
		t.Errorf("Generate after a stop: %v", err)
	}
}

func TestCancel(t *testing.T) {
	c := acquire(t, newPool(t, 1))
	var started, cancelled atomic.Bool
	p := smallParams(9)
	p.Steps = 6
	p.Progress = func(Progress) error {
		started.Store(true)
		for i := 0; i < 10000 && !cancelled.Load(); i++ {
			time.Sleep(time.Millisecond)
		}
		return nil
	}
	done := make(chan error, 1)
	go func() { _, err := c.Generate(p); done <- err }()
	for i := 0; i < 20000 && !started.Load(); i++ {
		time.Sleep(time.Millisecond)
	}
	c.Cancel()
	cancelled.Store(true)
	if err := <-done; !errors.Is(err, ErrCancelled) {
		t.Errorf("cancelled Generate = %v, want ErrCancelled", err)
	}

	// A done context.Context stops GenerateContext.
	ctx, cancel := context.WithCancel(context.Background())
	p.Progress = func(Progress) error { cancel(); return nil }
	if _, err := c.GenerateContext(ctx, p); !errors.Is(err, ErrCancelled) || !errors.Is(err, context.Canceled) {
		t.Errorf("GenerateContext after cancel = %v", err)
	}
	p.Progress = nil
	if _, err := c.GenerateContext(context.Background(), p); err != nil {
		t.Errorf("GenerateContext: %v", err)
	}
}

func TestInvalidParams(t *testing.T) {
	c := acquire(t, newPool(t, 1))
	p := smallParams(1)
	p.Width = 100
	_, err := c.Generate(p)
	var se *Error
	if !errors.As(err, &se) || se.Code != CodeInvalidParams || !strings.Contains(se.Message, "width") {
		t.Errorf("width 100: %v", err)
	}
	p.Width = 64
	p.Sampler = "no-such-sampler"
	if _, err := c.Generate(p); !errors.Is(err, ErrInvalidParams) || !strings.Contains(err.Error(), "sampler") {
		t.Errorf("bad sampler: %v", err)
	}
	if _, err := EncodePNG(Image{Width: 2, Height: 2, RGB: make([]byte, 5)}, ""); !errors.Is(err, ErrInvalidParams) {
		t.Errorf("EncodePNG(short) = %v", err)
	}
}

func TestAcquireTimeoutAndClose(t *testing.T) {
	pool := newPool(t, 2)
	a := acquire(t, pool)
	b, err := pool.AcquireTimeout(time.Second)
	if err != nil {
		t.Fatalf("second Acquire: %v", err)
	}
	if n := pool.Available(); n != 0 {
		t.Errorf("Available() = %d with both held", n)
	}
	start := time.Now()
	_, err = pool.AcquireTimeout(100 * time.Millisecond)
	if !errors.Is(err, ErrAcquireTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("third Acquire = %v, want ErrAcquireTimeout", err)
	}
	if d := time.Since(start); d < 90*time.Millisecond || d > 5*time.Second {
		t.Errorf("third Acquire returned after %v", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := pool.Acquire(ctx); !errors.Is(err, ErrCancelled) {
		t.Errorf("Acquire(cancelled ctx) = %v", err)
	}
	b.Release()
	b.Release() // idempotent
	if _, err := b.Generate(smallParams(1)); !errors.Is(err, ErrInvalidParams) {
		t.Errorf("Generate on a released context = %v", err)
	}
	c, err := pool.AcquireTimeout(0)
	if err != nil {
		t.Fatalf("Acquire after a release: %v", err)
	}
	c.Release()
	a.Release()
	pool.Close()
	if _, err := pool.AcquireTimeout(0); !errors.Is(err, ErrPoolClosed) {
		t.Errorf("Acquire after Close = %v", err)
	}
}
