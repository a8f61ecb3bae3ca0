//go:build sd && cgo

package sdr

/*
#include <stdint.h>
#include <stdlib.h>
#include "sdr/sdr.h"

extern int sdrgoProgress(int image, int step, int total_steps, double elapsed_s, void* user);

static void sdrgo_set_generator_progress(sdr_generate_params* p, uintptr_t handle) {
  p->progress = sdrgoProgress;
  p->progress_user = (void*)handle;
}
*/
import "C"

import (
	"context"
	"errors"
	"runtime"
	"runtime/cgo"
	"strings"
	"sync"
	"unsafe"
)

// Generator is the application's image source: the local engine when SD_MODEL_PATH loads, else
// Azure OpenAI or OpenAI, chosen from the environment (see NewGeneratorFromConfig). It implements
// Provider. Safe for concurrent use: up to SD_MAX_CONCURRENT requests run at once, the others
// wait (ErrAcquireTimeout past SD_TIMEOUT_SECONDS).
type Generator struct {
	mu sync.RWMutex // RLock: a C call on p; Lock: Close (waits for the calls in flight)
	p  *C.sdr_generator
}

var _ Provider = (*Generator)(nil)

// NewGeneratorFromConfig chooses and opens the image provider from the environment, in order:
// SD_MODEL_PATH when it exists and loads; AZURE_OPENAI_ENDPOINT + AZURE_OPENAI_API_KEY (+
// AZURE_OPENAI_DEPLOYMENT, AZURE_OPENAI_API_VERSION); OPENAI_API_KEY (+ OPENAI_BASE_URL,
// OPENAI_IMAGE_MODEL). A model that fails to load is skipped (a warning on stderr) when a cloud
// provider is configured. Errors: ErrInvalidParams (a bad variable, or nothing configured: the
// message lists the variables), ErrModelNotFound / ErrModelLoadFailed / ErrOutOfMemory (the
// model failed and no cloud is configured).
func NewGeneratorFromConfig() (*Generator, error) {
	var e C.sdr_error
	var p *C.sdr_generator
	if err := fromC(C.sdr_generator_create_from_env(&p, &e), &e); err != nil {
		return nil, err
	}
	g := &Generator{p: p}
	runtime.SetFinalizer(g, (*Generator).Close) // a safety net: call Close
	return g, nil
}

// Close frees the generator after waiting for the requests in flight. Idempotent; always nil.
func (g *Generator) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.p != nil {
		C.sdr_generator_free(g.p)
		g.p = nil
	}
	return nil
}

// Name is the provider: "local", "azure" or "openai" ("" once closed).
func (g *Generator) Name() string {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.p == nil {
		return ""
	}
	return C.GoString(C.sdr_generator_provider_name(g.p))
}

// Selection is why this provider was chosen: one line per branch considered (never a key).
func (g *Generator) Selection() []string {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.p == nil {
		return nil
	}
	return strings.Split(C.GoString(C.sdr_generator_selection(g.p)), "\n")
}

// IsReady reports whether the provider can take requests (nothing is sent over the network).
func (g *Generator) IsReady() bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.p == nil {
		return false
	}
	var e C.sdr_error
	return C.sdr_generator_ready(g.p, &e) == C.SDR_OK
}

// Generate produces req.N images. It stops when ctx is done: ErrCancelled, or past ctx's deadline
// ErrGenerationTimeout, unwrapping to ctx.Err(). Errors are *Error values whatever the provider:
// compare with errors.Is against ErrInvalidParams, ErrRateLimited, ErrContentPolicy, ...
func (g *Generator) Generate(ctx context.Context, req Request) (*Result, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return nil, ctxError(err)
	}
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.p == nil {
		return nil, invalid("the generator is closed")
	}
	params := C.sdr_generator_params_default()
	var strs []*C.char
	str := func(s string) *C.char {
		cs := cString(s)
		if cs != nil {
			strs = append(strs, cs)
		}
		return cs
	}
	defer func() {
		for _, s := range strs {
			C.free(unsafe.Pointer(s))
		}
	}()
	params.prompt = str(req.Prompt)
	params.negative_prompt = str(req.NegativePrompt)
	params.width = C.int(req.Width)
	params.height = C.int(req.Height)
	if req.N != 0 {
		params.batch_count = C.int(req.N)
	}
	params.steps = C.int(req.Steps)
	params.cfg_scale = C.float(req.CFGScale)
	params.sampler = str(req.Sampler)
	params.scheduler = str(req.Scheduler)
	if req.Seed != nil {
		params.seed = C.int64_t(*req.Seed)
	}
	params.clip_skip = C.int(req.ClipSkip)
	var state *progressState
	if req.Progress != nil {
		state = &progressState{fn: req.Progress}
		h := cgo.NewHandle(state)
		defer h.Delete()
		C.sdrgo_set_generator_progress(&params, C.uintptr_t(h))
	}

	// ctx -> the C cancel flag, raised from a watcher goroutine.
	cancel := C.sdr_cancel_create()
	if cancel == nil {
		return nil, &Error{Code: CodeOutOfMemory, Message: "sdr_cancel_create failed"}
	}
	defer C.sdr_cancel_free(cancel)
	done := make(chan struct{})
	watcher := make(chan struct{})
	go func() {
		defer close(watcher)
		select {
		case <-ctx.Done():
			C.sdr_cancel_request(cancel)
		case <-done:
		}
	}()
	var e C.sdr_error
	var imgs *C.sdr_png_image
	var n C.size_t
	code := C.sdr_generator_generate(g.p, &params, cancel, &imgs, &n, &e)
	close(done)
	<-watcher // the watcher no longer touches `cancel` once we free it
	runtime.KeepAlive(state)
	if state != nil && state.panicked != nil {
		panic(state.panicked)
	}
	if err := fromC(code, &e); err != nil {
		se := err.(*Error)
		if se.Code == CodeCancelled && state != nil && state.err != nil {
			se.cause = state.err
		} else if (se.Code == CodeCancelled || se.Code == CodeGenerationTimeout) && ctx.Err() != nil {
			return nil, ctxError(ctx.Err()) // the ctx stopped it (or its deadline passed as well)
		}
		return nil, se
	}
	defer C.sdr_png_images_free(imgs, n)
	arr := unsafe.Slice(imgs, int(n))
	res := &Result{Provider: C.GoString(C.sdr_generator_provider_name(g.p)), Images: make([]GeneratedImage, len(arr))}
	for i, im := range arr {
		res.Images[i] = GeneratedImage{
			PNG:           C.GoBytes(unsafe.Pointer(im.png), C.int(im.png_size)),
			Width:         int(im.width),
			Height:        int(im.height),
			Seed:          int64(im.seed),
			Infotext:      C.GoString(im.infotext),
			RevisedPrompt: C.GoString(im.revised_prompt),
		}
	}
	return res, nil
}

// ctxError is the *Error for a done context: ErrGenerationTimeout past its deadline, else
// ErrCancelled; both unwrap to ctx.Err().
func ctxError(err error) error {
	code := CodeCancelled
	if errors.Is(err, context.DeadlineExceeded) {
		code = CodeGenerationTimeout
	}
	return &Error{Code: code, Message: err.Error(), cause: err}
}

