//go:build !(sd && cgo)

// Package sdr is the Go binding of sdruntime. This is its stub, built without the "sd" build tag
// or without cgo: the same API, whose constructors return ErrNotBuilt, so that programs importing
// the package compile everywhere. Build with `-tags sd` (and cgo, and libsdr found through
// pkg-config) for the real binding.
package sdr

import (
	"context"
	"time"
)

// Version is "" in the stub.
func Version() string { return "" }

// SystemInfo says that the binding is not built.
func SystemInfo() string { return ErrNotBuilt.Error() }

// IsCUDAAvailable is false in the stub.
func IsCUDAAvailable() bool { return false }

// BackendInfo says that the binding is not built.
func BackendInfo() string { return ErrNotBuilt.Error() }

// Generator is the image source; in the stub it cannot be created.
type Generator struct{}

var _ Provider = (*Generator)(nil)

// NewGeneratorFromConfig returns ErrNotBuilt in the stub.
func NewGeneratorFromConfig() (*Generator, error) { return nil, ErrNotBuilt }

func (g *Generator) Close() error        { return nil }
func (g *Generator) Name() string        { return "" }
func (g *Generator) Selection() []string { return nil }
func (g *Generator) IsReady() bool       { return false }

// Generate returns ErrNotBuilt in the stub.
func (g *Generator) Generate(ctx context.Context, req Request) (*Result, error) {
	return nil, ErrNotBuilt
}

// Model, Pool and Context: the low-level API; in the stub none can be created.
type Model struct{}
type Pool struct{}
type Context struct{}

func LoadModel(path, tokenizer, vae string) (*Model, error)            { return nil, ErrNotBuilt }
func LoadModelWithOptions(opts ModelOptions) (*Model, error)           { return nil, ErrNotBuilt }
func (m *Model) Close() error                                          { return nil }
func NewPool(m *Model, maxConcurrent int) (*Pool, error)               { return nil, ErrNotBuilt }
func NewPoolWithOptions(m *Model, opts PoolOptions) (*Pool, error)     { return nil, ErrNotBuilt }
func (p *Pool) Close() error                                           { return nil }
func (p *Pool) Available() int                                         { return 0 }
func (p *Pool) Acquire(ctx context.Context) (*Context, error)          { return nil, ErrNotBuilt }
func (p *Pool) AcquireTimeout(timeout time.Duration) (*Context, error) { return nil, ErrNotBuilt }
func (c *Context) Release()                                            {}
func (c *Context) Cancel()                                             {}
func (c *Context) Generate(p GenerateParams) ([]Image, error)          { return nil, ErrNotBuilt }
func (c *Context) GenerateContext(ctx context.Context, p GenerateParams) ([]Image, error) {
	return nil, ErrNotBuilt
}
func (c *Context) GenerateInto(p GenerateParams, rgb []byte) (uint64, error) { return 0, ErrNotBuilt }

// DefaultGenerateParams are the C API's defaults (the same values as the real binding's).
func DefaultGenerateParams() GenerateParams { return stubDefaultParams }

// PNG returns ErrNotBuilt in the stub (use image/png with RGBA()).
func (img Image) PNG() ([]byte, error)                       { return nil, ErrNotBuilt }
func EncodePNG(img Image, parameters string) ([]byte, error) { return nil, ErrNotBuilt }
func Infotext(p GenerateParams, seed uint64) (string, error) { return "", ErrNotBuilt }
