package sdr

// Types shared by the real binding (sd && cgo) and the stub.

import (
	"context"
	"image"
	"time"
)

// Progress describes one finished sampler step (local), or the arrival of a cloud answer (step 1
// of 1).
type Progress struct {
	Image      int // index in the batch
	Step       int // 1..TotalSteps
	TotalSteps int
	Elapsed    time.Duration // since the generation began
}

// Preview is a TAESD preview of an image in progress (GenerateParams.Preview): the model's tiny
// autoencoder decode of the step's denoised estimate.
type Preview struct {
	Image      int // index in the batch
	Step       int // 1..TotalSteps, a multiple of GenerateParams.PreviewEvery
	TotalSteps int
	RGBA       *image.RGBA // Width x Height of the request, opaque; a copy, yours to keep
}

// ModelOptions configures LoadModelWithOptions. Only Path is required.
type ModelOptions struct {
	Path      string // .safetensors / .ckpt / .gguf file or diffusers folder
	Tokenizer string // CLIP merges.txt (or a folder holding it) when the model ships none; "" = the model's
	VAE       string // an external VAE replacing the model's; "" = none
	// TAESDPath names a TAESD decoder (taesd_decoder.safetensors), needed by GenerateParams.Preview
	// and TAESDDecode; "" = none. A missing or wrong file fails the load (ErrModelNotFound /
	// ErrModelLoadFailed, naming it).
	TAESDPath string
}

// GenerateParams are the settings of one generation on a Context. Start from
// DefaultGenerateParams().
type GenerateParams struct {
	Prompt         string
	NegativePrompt string
	Width, Height  int     // pixels, multiples of 8 in [64, 2048]
	Steps          int     // 1..1000
	CFGScale       float32 // 0..100; 1 skips the negative pass
	Sampler        string  // "euler_a", "euler", "heun", "dpm2", "dpm++2s_a", "dpm++2m", "dpm++2mv2", "lcm"
	Scheduler      string  // "discrete" or "karras"
	Seed           int64   // < 0: random (reported in Image.Seed)
	RNG            string  // "cuda" (A1111 GPU noise) or "cpu"
	ClipSkip       int     // 1 = last CLIP layer
	BatchCount     int     // images per call; image b uses Seed + b
	VAETiling      bool    // decode in tiles (bounded memory)
	// InitImage, when set, makes the generation img2img: it starts from this RGB image (any
	// size: centre-cropped to Width:Height and box-resized), noised to Strength.
	InitImage *Image
	Strength  float32 // img2img denoising strength in [0, 1]; 1 = the whole schedule
	// Mask, with an InitImage, makes the generation inpainting: white = repaint, black = keep.
	Mask     *Image
	MaskBlur int // pixels 0..64: 0 = a hard mask (stable-diffusion.cpp); > 0 = blur + overlay (A1111)
	// LoraDir holds NAME.safetensors for "<lora:NAME:WEIGHT>" tags in Prompt; "" = none.
	LoraDir string
	// Progress, when set, is called on the generating goroutine after every step; a non-nil
	// error stops the generation, which then fails with ErrCancelled wrapping that error.
	Progress func(Progress) error
	// TAESDDecode decodes the final images with the model's TAESD instead of its VAE (fast, rough).
	// Needs a model loaded with ModelOptions.TAESDPath (else ErrInvalidParams).
	TAESDDecode bool
	// Preview, when set, is called on the generating goroutine every PreviewEvery-th step of every
	// image (after Progress) with a TAESD preview; a non-nil error stops the generation, which then
	// fails with ErrCancelled wrapping that error. Needs ModelOptions.TAESDPath (else
	// ErrInvalidParams). Each preview costs one TAESD decode (seconds at 512x512 on a CPU).
	Preview      func(Preview) error
	PreviewEvery int // steps between previews, >= 0; 0 = 1 (every step); default 1
}

// stubDefaultParams are the C API's defaults (sdr_generate_params_default), for the stub build;
// the cgo build's tests check that they match.
var stubDefaultParams = GenerateParams{
	Width: 512, Height: 512, Steps: 20, CFGScale: 7.5, Sampler: "dpm++2m", Scheduler: "discrete", Seed: -1,
	RNG: "cuda", ClipSkip: 1, BatchCount: 1, Strength: 0.75, PreviewEvery: 1,
}

// PoolOptions configures NewPoolWithOptions. The zero value of a field means its default.
type PoolOptions struct {
	MaxConcurrent     int           // contexts, 1..64; default 2
	MemoryBudgetBytes uint64        // scratch memory cap per generation; 0 = unlimited
	Timeout           time.Duration // per generation; 0 = 120 s; negative = none
}

// Image is an 8-bit RGB image: RGB[(y*Width+x)*3+c].
type Image struct {
	Width, Height int
	RGB           []byte
	Seed          uint64 // the seed this image used
}

// RGBA converts the image to an *image.RGBA (opaque), for image/png, image/draw and friends.
func (img Image) RGBA() *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, img.Width, img.Height))
	for i, j := 0, 0; i+2 < len(img.RGB) && j+3 < len(out.Pix); i, j = i+3, j+4 {
		out.Pix[j], out.Pix[j+1], out.Pix[j+2], out.Pix[j+3] = img.RGB[i], img.RGB[i+1], img.RGB[i+2], 255
	}
	return out
}

// ----- Generator: the application's shape --------------------------------------------------

// Provider is what an application asks for images: the Generator (local engine or cloud,
// chosen from the environment by NewGeneratorFromConfig) implements it, and so can a test fake.
type Provider interface {
	Generate(ctx context.Context, req Request) (*Result, error)
	IsReady() bool
}

// Request is one image request. Zero values mean "the provider's default" (local: the SD_*
// settings; cloud: the model's first size). Engine settings (NegativePrompt, Steps, CFGScale,
// Sampler, Scheduler, Seed, ClipSkip) are ignored by the cloud providers.
type Request struct {
	Prompt         string
	NegativePrompt string
	Width, Height  int     // pixels; both 0 = default size
	N              int     // images; 0 = 1
	Steps          int     // 0 = SD_INFERENCE_STEPS
	CFGScale       float32 // 0 = SD_GUIDANCE_SCALE
	Sampler        string  // "" = SD_SAMPLER; "euler_a", "dpm++2m", A1111 names ...
	Scheduler      string  // "" = SD_SCHEDULER
	Seed           *int64  // nil = random; sdr.Ptr(int64(42)) for a fixed seed
	ClipSkip       int     // 0 = 1
	// Progress, when set, is called after every local sampler step (and once when a cloud answer
	// arrives); a non-nil error stops a local generation (ErrCancelled wrapping it).
	Progress func(Progress) error
}

// Ptr returns a pointer to v (for Request.Seed).
func Ptr[T any](v T) *T { return &v }

// Result is what a request produced.
type Result struct {
	Images   []GeneratedImage
	Provider string // "local", "azure" or "openai"
}

// GeneratedImage is one image as PNG bytes, checked to decode, with what is known about it.
type GeneratedImage struct {
	PNG           []byte
	Width, Height int    // pixels, as decoded
	Seed          int64  // the seed used; -1 when the provider does not say (cloud)
	Infotext      string // A1111 "parameters" text (local); "" for cloud images
	RevisedPrompt string // the prompt the provider used (dall-e-3), else ""
}
