package sdr

// The error vocabulary, shared by the real binding and the stub: one Code per sdr_error_code
// (src/runtime/errors.h is the one table; the cgo build checks every value against sdr.h).

import "errors"

// Code is an error code of the C API; the values equal sdr_error_code.
type Code int

const (
	CodeOK                Code = 0
	CodeModelLoadFailed   Code = 1  // unreadable, corrupt or unsupported model
	CodeModelNotFound     Code = 2  // the model path does not exist
	CodeInvalidParams     Code = 3  // a setting or request field is missing, out of range or unknown
	CodeGenerationFailed  Code = 4  // anything else that went wrong while generating
	CodeOutOfMemory       Code = 5  // allocation failed or memory budget exceeded
	CodeGenerationTimeout Code = 6  // the per-generation timeout elapsed (or the ctx deadline passed)
	CodeAcquireTimeout    Code = 7  // no context / provider slot became free in time
	CodeCancelled         Code = 8  // Cancel, a progress error, or the ctx was done
	CodePoolClosed        Code = 9  // the pool is closed
	CodeOutOfVRAM         Code = 10 // GPU memory ran out (the message names the device)
	CodeUnavailable       Code = 11 // a provider or device cannot be reached (network, 5xx after retries)
	CodeAuthFailed        Code = 12 // the provider refused the credentials (401/403)
	CodeContentPolicy     Code = 13 // refused under the provider's content policy
	CodeRateLimited       Code = 14 // too many requests now: retry later (429)
	CodeQuotaExhausted    Code = 15 // the account's quota is used up: do not retry (429)
	CodeProviderError     Code = 16 // any other provider failure (its message and request id)
	CodeIO                Code = 17 // reading an input or writing an output failed
	// The HTTP server's own conditions (sdr serve); no function of this package returns them.
	CodeQueueFull       Code = 18 // the server's job queue is full: retry later (429)
	CodeNotFound        Code = 19 // no such job, image or route (404)
	CodeGone            Code = 20 // the job's result has expired (410)
	CodeUnauthorized    Code = 21 // the request lacks the server's API key (401)
	CodePayloadTooLarge Code = 22 // the request body is larger than the server accepts (413)
)

var codeNames = [...]string{
	"ok", "model_load_failed", "model_not_found", "invalid_params", "generation_failed", "out_of_memory",
	"generation_timeout", "acquire_timeout", "cancelled", "pool_closed", "out_of_vram", "unavailable",
	"auth_failed", "content_policy", "rate_limited", "quota_exhausted", "provider_error", "io_error",
	"queue_full", "not_found", "gone", "unauthorized", "payload_too_large",
}

// String is the stable lower-case name: "invalid_params", "cancelled", ... ("unknown" otherwise).
func (c Code) String() string {
	if c < 0 || int(c) >= len(codeNames) {
		return "unknown"
	}
	return codeNames[c]
}

// Error is a failure reported by the library.
type Error struct {
	Code    Code
	Message string // one line naming what failed, e.g. "invalid_argument: width 100 must be ..."
	cause   error  // the progress callback's error or the context.Context's, if any
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "sdr: " + e.Code.String()
	}
	return "sdr: " + e.Code.String() + ": " + e.Message
}

// Is reports whether target is an *Error with the same Code (so errors.Is(err, ErrCancelled)).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Unwrap returns the error that caused a cancellation (a progress callback's error or the
// context's), or nil.
func (e *Error) Unwrap() error { return e.cause }

// Sentinels for errors.Is, one per code.
var (
	ErrModelLoadFailed   = &Error{Code: CodeModelLoadFailed}
	ErrModelNotFound     = &Error{Code: CodeModelNotFound}
	ErrInvalidParams     = &Error{Code: CodeInvalidParams}
	ErrGenerationFailed  = &Error{Code: CodeGenerationFailed}
	ErrOutOfMemory       = &Error{Code: CodeOutOfMemory}
	ErrGenerationTimeout = &Error{Code: CodeGenerationTimeout}
	ErrAcquireTimeout    = &Error{Code: CodeAcquireTimeout}
	ErrCancelled         = &Error{Code: CodeCancelled}
	ErrPoolClosed        = &Error{Code: CodePoolClosed}
	ErrOutOfVRAM         = &Error{Code: CodeOutOfVRAM}
	ErrUnavailable       = &Error{Code: CodeUnavailable}
	ErrAuthFailed        = &Error{Code: CodeAuthFailed}
	ErrContentPolicy     = &Error{Code: CodeContentPolicy}
	ErrRateLimited       = &Error{Code: CodeRateLimited}
	ErrQuotaExhausted    = &Error{Code: CodeQuotaExhausted}
	ErrProviderError     = &Error{Code: CodeProviderError}
	ErrIO                = &Error{Code: CodeIO}
	ErrQueueFull         = &Error{Code: CodeQueueFull}
	ErrNotFound          = &Error{Code: CodeNotFound}
	ErrGone              = &Error{Code: CodeGone}
	ErrUnauthorized      = &Error{Code: CodeUnauthorized}
	ErrPayloadTooLarge   = &Error{Code: CodePayloadTooLarge}
)

// ErrNotBuilt is what every constructor returns when the package was built without the real
// binding (without the "sd" build tag or without cgo): the stub keeps programs compiling
// everywhere. Build with `-tags sd` and CGO_ENABLED=1, with libsdr found by pkg-config.
var ErrNotBuilt = errors.New("sdr: built without the sd tag/cgo: rebuild with -tags sd and CGO_ENABLED=1 " +
	"(libsdr found through pkg-config: set PKG_CONFIG_PATH to <prefix>/lib/pkgconfig)")
