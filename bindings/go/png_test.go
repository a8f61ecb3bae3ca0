package sdr

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"testing"
)

func encode(t *testing.T, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestValidatePNG(t *testing.T) {
	data := encode(t, 24, 16)
	if info, err := ValidatePNG(data, 24, 16); err != nil || info != (PNGInfo{24, 16}) {
		t.Errorf("valid: %+v %v", info, err)
	}
	if _, err := ValidatePNG(data, 0, 0); err != nil {
		t.Errorf("any size: %v", err)
	}
	if _, err := ValidatePNG(data, 32, 16); !errors.Is(err, ErrProviderError) {
		t.Errorf("wrong size: %v", err)
	}
	if _, err := ValidatePNG(data[:len(data)/2], 0, 0); !errors.Is(err, ErrProviderError) {
		t.Errorf("truncated: %v", err)
	}
	if _, err := ValidatePNG([]byte("\xff\xd8\xff\xe0 jpeg"), 0, 0); !errors.Is(err, ErrProviderError) {
		t.Errorf("jpeg: %v", err)
	}
	if err := (GeneratedImage{PNG: data, Width: 24, Height: 16}).Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if ErrRateLimited.Error() != "sdr: rate_limited" || !errors.Is(&Error{Code: CodeQuotaExhausted, Message: "x"}, ErrQuotaExhausted) {
		t.Error("error vocabulary")
	}
}
