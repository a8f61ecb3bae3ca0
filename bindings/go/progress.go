//go:build sd && cgo

package sdr

// The C progress callback (sdr_progress_fn), exported from Go. sdr.go points
// sdr_generate_params.progress at it, with progress_user carrying a cgo.Handle of the
// generation's *progressState. (A file with //export may only declare in its preamble, hence
// this separate file.)

/*
#include <stdint.h>
*/
import "C"

import (
	"runtime/cgo"
	"time"
	"unsafe"
)

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
