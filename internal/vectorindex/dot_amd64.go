package vectorindex

import "golang.org/x/sys/cpu"

// useAVX2 selects the assembly kernel (AVX2 with FMA) when the CPU has it.
var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// dotAVX2 is the dot product of n float32 at a and b (dot_amd64.s).
//
//go:noescape
func dotAVX2(a, b *float32, n int) float32

// dot returns the dot product of a and b[:len(a)].
func dot(a, b []float32) float32 {
	if !useAVX2 || len(a) == 0 {
		return dotGeneric(a, b)
	}
	b = b[:len(a)]
	return dotAVX2(&a[0], &b[0], len(a))
}
