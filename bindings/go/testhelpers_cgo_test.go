//go:build sd && cgo

package sdr

// Test helpers: cgo is not allowed in _test.go files, so the C call lives in names_cgo.go.

func C_errorCodeName(c Code) string { return errorCodeName(c) }

// sameParams compares two GenerateParams but their Progress and Preview funcs (funcs do not compare).
func sameParams(a, b GenerateParams) bool {
	return a.Prompt == b.Prompt && a.NegativePrompt == b.NegativePrompt && a.Width == b.Width && a.Height == b.Height &&
		a.Steps == b.Steps && a.CFGScale == b.CFGScale && a.Sampler == b.Sampler && a.Scheduler == b.Scheduler &&
		a.Seed == b.Seed && a.RNG == b.RNG && a.ClipSkip == b.ClipSkip && a.BatchCount == b.BatchCount &&
		a.VAETiling == b.VAETiling && a.Strength == b.Strength && a.InitImage == b.InitImage &&
		a.Mask == b.Mask && a.MaskBlur == b.MaskBlur && a.LoraDir == b.LoraDir &&
		a.TAESDDecode == b.TAESDDecode && a.PreviewEvery == b.PreviewEvery
}
