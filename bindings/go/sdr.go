//go:build sd && cgo

// Package sdr is the Go binding of sdruntime, a Stable Diffusion (SD 1.x) text-to-image runtime,
// through its C API (include/sdr/sdr.h, libsdr.so).
//
//	model, err := sdr.LoadModel("/models/sd15.safetensors", "/models/merges.txt", "")
//	if err != nil { ... }
//	pool, err := sdr.NewPool(model, 2) // two generations at a time
//	model.Close()                       // the pool keeps the weights alive
//	defer pool.Close()
//
//	c, err := pool.Acquire(ctx)        // waits for a free context until ctx is done
//	if err != nil { ... }               // errors.Is(err, sdr.ErrAcquireTimeout)
//	defer c.Release()
//	p := sdr.DefaultGenerateParams()    // 512x512, 20 steps, cfg 7.5, dpm++2m, random seed
//	p.Prompt = "a photo of a cat"
//	p.Seed = 42
//	images, err := c.Generate(p)
//	png, err := images[0].PNG()
//
// Errors are *Error values carrying a Code (the C API's sdr_error_code) and the library's
// message; compare with errors.Is against the sentinels (ErrInvalidParams, ErrCancelled, ...).
//
// Thread-safety: Model and Pool may be used from any number of goroutines. A Context runs one
// generation at a time (concurrent Generate calls on one Context are serialised); Cancel may be
// called from any goroutine. Release waits for a running generation to finish.
//
// Building: the real binding needs the "sd" build tag and cgo, and finds libsdr through
// pkg-config (sdr.pc, installed by `cmake --install`):
//
//	PKG_CONFIG_PATH=<prefix>/lib/pkgconfig go build -tags sd ./...
//
// Without the tag or without cgo the package is a stub whose constructors return ErrNotBuilt, so
// that programs importing it compile everywhere.
package sdr

/*
#cgo pkg-config: sdr
#include <stdint.h>
#include <stdlib.h>
#include "sdr/sdr.h"

// Defined in progress.go (exported from Go).
extern int sdrgoProgress(int image, int step, int total_steps, double elapsed_s, void* user);

static void sdrgo_set_progress(sdr_generate_params* p, uintptr_t handle) {
  p->progress = sdrgoProgress;
  p->progress_user = (void*)handle;
}

// Defined in progress.go; cgo exports take no const, hence the trampoline.
extern int sdrgoPreview(int image, int step, int total_steps, sdr_image* preview, void* user);

static int sdrgo_preview(int image, int step, int total_steps, const sdr_image* preview, void* user) {
  return sdrgoPreview(image, step, total_steps, (sdr_image*)preview, user);
}

static void sdrgo_set_preview(sdr_generate_params* p, uintptr_t handle) {
  p->preview = sdrgo_preview;
  p->preview_user = (void*)handle;
}
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/cgo"
	"sync"
	"time"
	"unsafe"
)

// Every Code of errors.go equals its sdr_error_code (a mismatch fails to compile: the array
// index would be negative or the constant overflow).
var _ = [1]struct{}{}[Code(C.SDR_OK)-CodeOK]
var _ = [1]struct{}{}[Code(C.SDR_ERR_MODEL_LOAD_FAILED)-CodeModelLoadFailed]
var _ = [1]struct{}{}[Code(C.SDR_ERR_MODEL_NOT_FOUND)-CodeModelNotFound]
var _ = [1]struct{}{}[Code(C.SDR_ERR_INVALID_PARAMS)-CodeInvalidParams]
var _ = [1]struct{}{}[Code(C.SDR_ERR_GENERATION_FAILED)-CodeGenerationFailed]
var _ = [1]struct{}{}[Code(C.SDR_ERR_OUT_OF_MEMORY)-CodeOutOfMemory]
var _ = [1]struct{}{}[Code(C.SDR_ERR_GENERATION_TIMEOUT)-CodeGenerationTimeout]
var _ = [1]struct{}{}[Code(C.SDR_ERR_ACQUIRE_TIMEOUT)-CodeAcquireTimeout]
var _ = [1]struct{}{}[Code(C.SDR_ERR_CANCELLED)-CodeCancelled]
var _ = [1]struct{}{}[Code(C.SDR_ERR_POOL_CLOSED)-CodePoolClosed]
var _ = [1]struct{}{}[Code(C.SDR_ERR_OUT_OF_VRAM)-CodeOutOfVRAM]
var _ = [1]struct{}{}[Code(C.SDR_ERR_UNAVAILABLE)-CodeUnavailable]
var _ = [1]struct{}{}[Code(C.SDR_ERR_AUTH_FAILED)-CodeAuthFailed]
var _ = [1]struct{}{}[Code(C.SDR_ERR_CONTENT_POLICY)-CodeContentPolicy]
var _ = [1]struct{}{}[Code(C.SDR_ERR_RATE_LIMITED)-CodeRateLimited]
var _ = [1]struct{}{}[Code(C.SDR_ERR_QUOTA_EXHAUSTED)-CodeQuotaExhausted]
var _ = [1]struct{}{}[Code(C.SDR_ERR_PROVIDER_ERROR)-CodeProviderError]
var _ = [1]struct{}{}[Code(C.SDR_ERR_IO)-CodeIO]
var _ = [1]struct{}{}[Code(C.SDR_ERR_QUEUE_FULL)-CodeQueueFull]
var _ = [1]struct{}{}[Code(C.SDR_ERR_NOT_FOUND)-CodeNotFound]
var _ = [1]struct{}{}[Code(C.SDR_ERR_GONE)-CodeGone]
var _ = [1]struct{}{}[Code(C.SDR_ERR_UNAUTHORIZED)-CodeUnauthorized]
var _ = [1]struct{}{}[Code(C.SDR_ERR_PAYLOAD_TOO_LARGE)-CodePayloadTooLarge]

func fromC(code C.sdr_error_code, e *C.sdr_error) error {
	if code == C.SDR_OK {
		return nil
	}
	return &Error{Code: Code(code), Message: C.GoString(&e.message[0])}
}

func invalid(format string, args ...any) error {
	return &Error{Code: CodeInvalidParams, Message: fmt.Sprintf(format, args...)}
}

// Version is the library version, "MAJOR.MINOR.PATCH".
func Version() string { return C.GoString(C.sdr_version()) }

// SystemInfo describes the build and the machine: CPU features, math library, threads, CUDA.
func SystemInfo() string { return C.GoString(C.sdr_system_info()) }

// IsCUDAAvailable reports whether the CUDA backend can run here: its module loads, the NVIDIA
// driver answers and a GPU of compute capability 8.0 or newer is present. BackendInfo says why
// not. Models then load on cuda:0 ("auto"); SD_DEVICE and SD_CUDA_PRECISION choose otherwise.
func IsCUDAAvailable() bool { return C.sdr_cuda_available() != 0 }

// BackendInfo describes the compute backends now, as `sdr info --system` does: with CUDA, each
// GPU (name, compute capability, VRAM total and free), the driver and runtime versions, the CUDA
// libraries and SD_MAX_CONCURRENT guidance from the free VRAM; without, the exact reason.
func BackendInfo() string {
	p := C.sdr_backend_info()
	if p == nil {
		return ""
	}
	defer C.sdr_free(unsafe.Pointer(p))
	return C.GoString(p)
}

// cString is C.CString, or NULL for "" (the C API's "use the default").
func cString(s string) *C.char {
	if s == "" {
		return nil
	}
	return C.CString(s)
}

// ----- Model --------------------------------------------------------------------------------

// Model is a loaded model (weights memory-mapped, immutable). Close it when done; pools created
// from it keep the weights alive on their own.
type Model struct {
	mu sync.Mutex
	p  *C.sdr_model
}

// LoadModel loads a .safetensors / .ckpt / .gguf file or a diffusers folder. tokenizer is the
// CLIP merges.txt (or a folder holding it) when the model ships none; vae an optional external
// VAE. Either may be "". Errors: ErrModelNotFound, ErrModelLoadFailed, ErrInvalidParams.
func LoadModel(path, tokenizer, vae string) (*Model, error) {
	return LoadModelWithOptions(ModelOptions{Path: path, Tokenizer: tokenizer, VAE: vae})
}

// LoadModelWithOptions loads a model with every option of ModelOptions (a TAESD decoder for
// previews, ...). Errors as LoadModel's.
func LoadModelWithOptions(opts ModelOptions) (*Model, error) {
	if opts.Path == "" {
		return nil, invalid("LoadModel: empty model path")
	}
	params := C.sdr_model_params_default()
	params.model_path = C.CString(opts.Path)
	defer C.free(unsafe.Pointer(params.model_path))
	params.tokenizer_path = cString(opts.Tokenizer)
	defer C.free(unsafe.Pointer(params.tokenizer_path))
	params.vae_path = cString(opts.VAE)
	defer C.free(unsafe.Pointer(params.vae_path))
	params.taesd_path = cString(opts.TAESDPath)
	defer C.free(unsafe.Pointer(params.taesd_path))
	var e C.sdr_error
	var m *C.sdr_model
	if err := fromC(C.sdr_model_load(&params, &m, &e), &e); err != nil {
		return nil, err
	}
	model := &Model{p: m}
	runtime.SetFinalizer(model, (*Model).Close) // a safety net: call Close
	return model, nil
}

// Close releases the model. Idempotent; always nil. A finalizer calls it for a Model that is
// garbage collected unclosed, as a safety net; close explicitly to free the memory in time.
func (m *Model) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.p != nil {
		C.sdr_model_free(m.p)
		m.p = nil
	}
	return nil
}

// ----- Pool ---------------------------------------------------------------------------------

// Pool hands out up to MaxConcurrent contexts on one model.
type Pool struct {
	mu sync.RWMutex // RLock: a C call on p; Lock: Close
	p  *C.sdr_pool
}

// NewPool creates a pool of maxConcurrent contexts on m (other options default).
func NewPool(m *Model, maxConcurrent int) (*Pool, error) {
	return NewPoolWithOptions(m, PoolOptions{MaxConcurrent: maxConcurrent})
}

// NewPoolWithOptions creates a pool on m. Errors: ErrInvalidParams (closed model, bad options).
func NewPoolWithOptions(m *Model, opts PoolOptions) (*Pool, error) {
	if m == nil {
		return nil, invalid("NewPool: nil model")
	}
	params := C.sdr_pool_params_default()
	if opts.MaxConcurrent != 0 {
		params.max_concurrent = C.int(opts.MaxConcurrent)
	}
	params.memory_budget_bytes = C.uint64_t(opts.MemoryBudgetBytes)
	if opts.Timeout > 0 {
		params.timeout_s = C.double(opts.Timeout.Seconds())
	} else if opts.Timeout < 0 {
		params.timeout_s = 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.p == nil {
		return nil, invalid("NewPool: the model is closed")
	}
	var e C.sdr_error
	var p *C.sdr_pool
	if err := fromC(C.sdr_pool_create(m.p, &params, &p, &e), &e); err != nil {
		return nil, err
	}
	pool := &Pool{p: p}
	runtime.SetFinalizer(pool, (*Pool).Close) // a safety net: call Close (contexts keep their pool alive)
	return pool, nil
}

// Close closes the pool: waiting acquires fail with ErrPoolClosed, generations in flight are
// cancelled, and Close blocks until every acquired Context has been released. Idempotent.
func (p *Pool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.p != nil {
		C.sdr_pool_free(p.p)
		p.p = nil
	}
	return nil
}

// Available is the number of contexts free right now (0 once closed).
func (p *Pool) Available() int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.p == nil {
		return 0
	}
	return int(C.sdr_pool_available(p.p))
}

// acquireSlice bounds each blocking C call so that Close and ctx cancellation are noticed.
const acquireSlice = 50 * time.Millisecond

func (p *Pool) tryAcquire(wait time.Duration) (*Context, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.p == nil {
		return nil, &Error{Code: CodePoolClosed, Message: "the pool is closed"}
	}
	var e C.sdr_error
	var c *C.sdr_context
	if err := fromC(C.sdr_pool_acquire(p.p, C.int64_t(wait.Milliseconds()), &c, &e), &e); err != nil {
		return nil, err
	}
	ctx := &Context{p: c, pool: p}
	runtime.SetFinalizer(ctx, (*Context).Release) // a safety net: call Release
	return ctx, nil
}

// Acquire borrows a context, waiting until one is free or ctx is done. Errors: ErrAcquireTimeout
// (ctx's deadline passed; unwraps to context.DeadlineExceeded), ErrCancelled (ctx was cancelled;
// unwraps to context.Canceled), ErrPoolClosed.
func (p *Pool) Acquire(ctx context.Context) (*Context, error) {
	start := time.Now()
	for {
		wait := acquireSlice
		if deadline, ok := ctx.Deadline(); ok {
			if rem := time.Until(deadline); rem < wait {
				wait = rem
			}
		}
		if wait < 0 {
			wait = 0
		}
		c, err := p.tryAcquire(wait)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, ErrAcquireTimeout) {
			return nil, err
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			code := CodeCancelled
			if errors.Is(ctxErr, context.DeadlineExceeded) {
				code = CodeAcquireTimeout
			}
			return nil, &Error{Code: code, cause: ctxErr, Message: fmt.Sprintf(
				"no context became free within %v: %v", time.Since(start).Round(time.Millisecond), ctxErr)}
		}
	}
}

// AcquireTimeout is Acquire with a timeout (0: do not wait).
func (p *Pool) AcquireTimeout(timeout time.Duration) (*Context, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return p.Acquire(ctx)
}

// ----- Context ------------------------------------------------------------------------------

// Context is a context borrowed from a Pool. Release it when done.
type Context struct {
	gen  sync.Mutex   // one generation at a time
	mu   sync.RWMutex // RLock: using p; Lock: Release
	p    *C.sdr_context
	pool *Pool // keeps the pool reachable (its finalizer would wait for this context)
}

// Release returns the context to its pool, after waiting for a generation in flight. Idempotent.
func (c *Context) Release() {
	c.gen.Lock()
	defer c.gen.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.p != nil {
		C.sdr_context_release(c.p)
		c.p = nil
		c.pool = nil
	}
}

// Cancel stops the generation in flight on c (it returns ErrCancelled within about one layer).
// With none running, the next generation on c is cancelled as it starts. Any goroutine.
func (c *Context) Cancel() {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.p != nil {
		C.sdr_context_cancel(c.p)
	}
}

// DefaultGenerateParams: 512x512, 20 steps, cfg 7.5, "dpm++2m", "discrete", seed -1, "cuda",
// clip skip 1, batch 1, no tiling, strength 0.75 (used with an InitImage), no TAESD decode,
// previews (when Preview is set) every step.
func DefaultGenerateParams() GenerateParams {
	d := C.sdr_generate_params_default()
	return GenerateParams{
		Width: int(d.width), Height: int(d.height), Steps: int(d.steps), CFGScale: float32(d.cfg_scale),
		Sampler: C.GoString(d.sampler), Scheduler: C.GoString(d.scheduler), Seed: int64(d.seed),
		RNG: C.GoString(d.rng), ClipSkip: int(d.clip_skip), BatchCount: int(d.batch_count),
		VAETiling: d.vae_tiling != 0, Strength: float32(d.strength), TAESDDecode: d.taesd_decode != 0,
		PreviewEvery: int(d.preview_every),
	}
}

// progressState is what the C progress and preview callbacks reach through a cgo.Handle.
type progressState struct {
	fn       func(Progress) error
	preview  func(Preview) error
	err      error // the callback's error, which stopped the generation
	panicked any   // a panic inside the callback, re-raised after the C call returns
	ctx      context.Context
}

// cParams holds a C copy of GenerateParams and the memory to free afterwards.
type cParams struct {
	c       C.sdr_generate_params
	strs    []*C.char
	cmem    []unsafe.Pointer // C copies (the init image) freed with the strings
	handle  cgo.Handle
	state   *progressState
	hasHand bool
}

func newCParams(p *GenerateParams, ctx context.Context) *cParams {
	cp := &cParams{c: C.sdr_generate_params_default()}
	str := func(s string) *C.char {
		cs := cString(s)
		if cs != nil {
			cp.strs = append(cp.strs, cs)
		}
		return cs
	}
	cp.c.prompt = str(p.Prompt)
	cp.c.negative_prompt = str(p.NegativePrompt)
	cp.c.width = C.int(p.Width)
	cp.c.height = C.int(p.Height)
	cp.c.steps = C.int(p.Steps)
	cp.c.cfg_scale = C.float(p.CFGScale)
	cp.c.sampler = str(p.Sampler)
	cp.c.scheduler = str(p.Scheduler)
	cp.c.seed = C.int64_t(p.Seed)
	cp.c.rng = str(p.RNG)
	cp.c.clip_skip = C.int(p.ClipSkip)
	cp.c.batch_count = C.int(p.BatchCount)
	if p.VAETiling {
		cp.c.vae_tiling = 1
	}
	cp.c.strength = C.float(p.Strength)
	cp.c.mask_blur = C.int(p.MaskBlur)
	cp.c.lora_dir = str(p.LoraDir)
	cp.c.init_image = cp.image(p.InitImage)
	cp.c.mask = cp.image(p.Mask)
	if p.TAESDDecode {
		cp.c.taesd_decode = 1
	}
	cp.c.preview_every = C.int(p.PreviewEvery)
	if p.Progress != nil || p.Preview != nil || ctx != nil {
		cp.state = &progressState{fn: p.Progress, preview: p.Preview, ctx: ctx}
		cp.handle = cgo.NewHandle(cp.state)
		cp.hasHand = true
		if p.Progress != nil || ctx != nil {
			C.sdrgo_set_progress(&cp.c, C.uintptr_t(cp.handle))
		}
		if p.Preview != nil {
			C.sdrgo_set_preview(&cp.c, C.uintptr_t(cp.handle))
		}
	}
	return cp
}

// image copies img into C memory (the params struct must not point into Go memory), freed by
// free(); nil for nil. A malformed image keeps a NULL data pointer, which the library refuses.
func (cp *cParams) image(img *Image) *C.sdr_image {
	if img == nil {
		return nil
	}
	c := (*C.sdr_image)(C.calloc(1, C.size_t(unsafe.Sizeof(C.sdr_image{}))))
	c.width, c.height, c.channels = C.int(img.Width), C.int(img.Height), 3
	if len(img.RGB) > 0 && len(img.RGB) == img.Width*img.Height*3 {
		c.data = (*C.uint8_t)(C.CBytes(img.RGB))
		cp.cmem = append(cp.cmem, unsafe.Pointer(c.data))
	}
	cp.cmem = append(cp.cmem, unsafe.Pointer(c))
	return c
}

func (cp *cParams) free() {
	for _, s := range cp.strs {
		C.free(unsafe.Pointer(s))
	}
	for _, m := range cp.cmem {
		C.free(m)
	}
	if cp.hasHand {
		cp.handle.Delete()
	}
}

// finish turns the C result into the Go error, re-raising a callback panic.
func (cp *cParams) finish(code C.sdr_error_code, e *C.sdr_error) error {
	if cp.state != nil && cp.state.panicked != nil {
		panic(cp.state.panicked)
	}
	err := fromC(code, e)
	if err == nil || cp.state == nil {
		return err
	}
	se := err.(*Error)
	if se.Code == CodeCancelled {
		if cp.state.err != nil {
			se.cause = cp.state.err
		} else if cp.state.ctx != nil && cp.state.ctx.Err() != nil {
			se.cause = cp.state.ctx.Err()
			if errors.Is(se.cause, context.DeadlineExceeded) {
				se.Code = CodeGenerationTimeout
			}
		}
	}
	return se
}

// lock takes the generation and handle locks; the returned function undoes them.
func (c *Context) lock() (unlock func(), err error) {
	c.gen.Lock()
	c.mu.RLock()
	if c.p == nil {
		c.mu.RUnlock()
		c.gen.Unlock()
		return nil, invalid("the context was released")
	}
	return func() { c.mu.RUnlock(); c.gen.Unlock() }, nil
}

// Generate runs text to image: BatchCount images, in order. Errors: ErrInvalidParams (the
// message names the setting), ErrCancelled, ErrGenerationTimeout, ErrOutOfMemory,
// ErrGenerationFailed.
func (c *Context) Generate(p GenerateParams) ([]Image, error) {
	return c.generate(nil, p)
}

// GenerateContext is Generate that also stops (checked after every sampler step) when ctx is
// done: ErrCancelled or, past ctx's deadline, ErrGenerationTimeout, unwrapping to ctx.Err().
func (c *Context) GenerateContext(ctx context.Context, p GenerateParams) ([]Image, error) {
	if err := ctx.Err(); err != nil {
		return nil, &Error{Code: CodeCancelled, Message: err.Error(), cause: err}
	}
	return c.generate(ctx, p)
}

func (c *Context) generate(ctx context.Context, p GenerateParams) ([]Image, error) {
	unlock, err := c.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	cp := newCParams(&p, ctx)
	defer cp.free()
	var e C.sdr_error
	var imgs *C.sdr_image
	var n C.size_t
	code := C.sdr_generate(c.p, &cp.c, &imgs, &n, &e)
	runtime.KeepAlive(cp)
	if err := cp.finish(code, &e); err != nil {
		return nil, err
	}
	defer C.sdr_images_free(imgs, n)
	arr := unsafe.Slice(imgs, int(n))
	out := make([]Image, len(arr))
	for i, im := range arr {
		size := int(im.width) * int(im.height) * int(im.channels)
		out[i] = Image{Width: int(im.width), Height: int(im.height), Seed: uint64(im.seed),
			RGB: C.GoBytes(unsafe.Pointer(im.data), C.int(size))}
	}
	return out, nil
}

// GenerateInto generates one image (BatchCount must be 1) straight into rgb, which must hold
// at least Width*Height*3 bytes; returns the seed used. rgb is written only on success.
func (c *Context) GenerateInto(p GenerateParams, rgb []byte) (uint64, error) {
	if len(rgb) == 0 {
		return 0, invalid("GenerateInto: empty buffer")
	}
	unlock, err := c.lock()
	if err != nil {
		return 0, err
	}
	defer unlock()
	cp := newCParams(&p, nil)
	defer cp.free()
	var e C.sdr_error
	var seed C.uint64_t
	code := C.sdr_generate_into(c.p, &cp.c, (*C.uint8_t)(unsafe.Pointer(&rgb[0])), C.size_t(len(rgb)), &seed, &e)
	runtime.KeepAlive(rgb)
	if err := cp.finish(code, &e); err != nil {
		return 0, err
	}
	return uint64(seed), nil
}

// ----- Output helpers -----------------------------------------------------------------------

// PNG encodes the image as an 8-bit RGB PNG.
func (img Image) PNG() ([]byte, error) { return EncodePNG(img, "") }

// EncodePNG encodes img as PNG, storing parameters (e.g. from Infotext), when not "", in the
// "parameters" text chunk A1111 reads. Errors: ErrInvalidParams (size mismatch, bad UTF-8).
func EncodePNG(img Image, parameters string) ([]byte, error) {
	if img.Width <= 0 || img.Height <= 0 || len(img.RGB) != img.Width*img.Height*3 {
		return nil, invalid("EncodePNG: %d RGB bytes for %dx%d", len(img.RGB), img.Width, img.Height)
	}
	data := C.CBytes(img.RGB) // C memory: the C struct must not point into Go memory
	defer C.free(data)
	ci := C.sdr_image{width: C.int(img.Width), height: C.int(img.Height), channels: 3, data: (*C.uint8_t)(data),
		seed: C.uint64_t(img.Seed)}
	text := cString(parameters)
	defer C.free(unsafe.Pointer(text))
	var e C.sdr_error
	var png *C.uint8_t
	var size C.size_t
	if err := fromC(C.sdr_image_encode_png(&ci, text, &png, &size, &e), &e); err != nil {
		return nil, err
	}
	defer C.sdr_free(unsafe.Pointer(png))
	return C.GoBytes(unsafe.Pointer(png), C.int(size)), nil
}

// Infotext is the A1111 "parameters" text for an image generated with p and seed.
func Infotext(p GenerateParams, seed uint64) (string, error) {
	cp := newCParams(&GenerateParams{
		Prompt: p.Prompt, NegativePrompt: p.NegativePrompt, Width: p.Width, Height: p.Height, Steps: p.Steps,
		CFGScale: p.CFGScale, Sampler: p.Sampler, Scheduler: p.Scheduler, Seed: p.Seed, RNG: p.RNG,
		ClipSkip: p.ClipSkip, BatchCount: p.BatchCount, VAETiling: p.VAETiling,
	}, nil)
	defer cp.free()
	var e C.sdr_error
	var out *C.char
	if err := fromC(C.sdr_infotext(&cp.c, C.uint64_t(seed), &out, &e), &e); err != nil {
		return "", err
	}
	defer C.sdr_free(unsafe.Pointer(out))
	return C.GoString(out), nil
}
