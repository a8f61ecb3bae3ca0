package sdr

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
)

// PNGInfo is what ValidatePNG found.
type PNGInfo struct {
	Width, Height int
}

// ValidatePNG checks that data is a PNG that decodes completely (like the application's image
// utilities) and, when wantWidth/wantHeight are > 0, that it has that size. Errors are
// ErrProviderError-coded *Error values naming what is wrong.
func ValidatePNG(data []byte, wantWidth, wantHeight int) (PNGInfo, error) {
	if !bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) {
		return PNGInfo{}, &Error{Code: CodeProviderError, Message: fmt.Sprintf("not a PNG (%d bytes)", len(data))}
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return PNGInfo{}, &Error{Code: CodeProviderError, Message: "PNG header: " + err.Error()}
	}
	const maxPixels = 64 << 20
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > maxPixels {
		return PNGInfo{}, &Error{Code: CodeProviderError, Message: fmt.Sprintf("PNG of %dx%d pixels", cfg.Width, cfg.Height)}
	}
	var img image.Image
	if img, err = png.Decode(bytes.NewReader(data)); err != nil {
		return PNGInfo{}, &Error{Code: CodeProviderError, Message: "PNG does not decode: " + err.Error()}
	}
	info := PNGInfo{Width: img.Bounds().Dx(), Height: img.Bounds().Dy()}
	if (wantWidth > 0 && info.Width != wantWidth) || (wantHeight > 0 && info.Height != wantHeight) {
		return info, &Error{Code: CodeProviderError,
			Message: fmt.Sprintf("PNG is %dx%d, want %dx%d", info.Width, info.Height, wantWidth, wantHeight)}
	}
	return info, nil
}

// Validate checks the image's PNG bytes against its Width and Height.
func (g GeneratedImage) Validate() error {
	_, err := ValidatePNG(g.PNG, g.Width, g.Height)
	return err
}
