//go:build sd && cgo

package sdr

// The C progress and preview callbacks (sdr_progress_fn, sdr_preview_fn), exported from Go.
// sdr.go points sdr_generate_params.progress and .preview at them, with progress_user and
// preview_user carrying a cgo.Handle of the generation's *progressState. (A file with //export
// may only declare in its preamble, hence this separate file.)

/*
#include <stdint.h>
#include "sdr/sdr.h"
*/
import "C"

import (
	"runtime/cgo"
	"time"
	"unsafe"
)

//export sdrgoPreview
func sdrgoPreview(img, step, totalSteps C.int, preview *C.sdr_image, user unsafe.Pointer) (stop C.int) {
	state, ok := cgo.Handle(uintptr(user)).Value().(*progressState)
	if !ok {
		return 1
	}
	defer func() { // as in sdrgoProgress: no panic unwinds through C++
		if r := recover(); r != nil {
			state.panicked = r
			stop = 1
		}
	}()
	if state.ctx != nil && state.ctx.Err() != nil {
		return 1
	}
	if state.preview == nil || preview == nil || preview.data == nil || preview.channels != 3 {
		return 0
	}
	// The C buffer is valid only during this call: Image.RGBA copies it into Go memory.
	w, h := int(preview.width), int(preview.height)
	view := Image{Width: w, Height: h, RGB: unsafe.Slice((*byte)(unsafe.Pointer(preview.data)), w*h*3)}
	err := state.preview(Preview{Image: int(img), Step: int(step), TotalSteps: int(totalSteps), RGBA: view.RGBA()})
	if err != nil {
		state.err = err
		return 1
	}
	return 0
}

//export sdrgoProgress
func sdrgoProgress(image, step, totalSteps C.int, elapsedS C.double, user unsafe.Pointer) (stop C.int) {
	state, ok := cgo.Handle(uintptr(user)).Value().(*progressState)
	if !ok {
		return 1
	}
	// A panic must not unwind through the C++ frames: stop the generation and let Generate
	// re-raise it once the C call has returned.
	defer func() {
		if r := recover(); r != nil {
			state.panicked = r
			stop = 1
		}
	}()
	if state.ctx != nil && state.ctx.Err() != nil {
		return 1
	}
	if state.fn == nil {
		return 0
	}
	err := state.fn(Progress{
		Image:      int(image),
		Step:       int(step),
		TotalSteps: int(totalSteps),
		Elapsed:    time.Duration(float64(elapsedS) * float64(time.Second)),
	})
	if err != nil {
		state.err = err
		return 1
	}
	return 0
}
