// A shared library that is not a CUDA module (no sdr_cuda_module).
extern "C" __attribute__((visibility("default"))) int sdr_not_a_module() { return 1; }
