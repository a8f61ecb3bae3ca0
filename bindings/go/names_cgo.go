//go:build sd && cgo

package sdr

/*
#include "sdr/sdr.h"
*/
import "C"

// errorCodeName is the C API's name of a code (sdr_error_code_name), for checks against Code.String.
func errorCodeName(c Code) string { return C.GoString(C.sdr_error_code_name(C.sdr_error_code(c))) }
