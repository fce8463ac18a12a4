//go:build !unix

package storetest

import "time"

// processCPU is unknown here; the benchmarks leave out what needs it.
func processCPU() time.Duration { return 0 }
