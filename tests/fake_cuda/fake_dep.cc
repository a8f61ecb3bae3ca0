// The library the needs_lib fake module links: built into a folder of its own, found only
// through SDR_CUDA_LIB_PATH-style preloading (CudaModuleSearch::lib_dirs).
extern "C" __attribute__((visibility("default"))) int sdr_fake_cuda_dependency() { return 13000; }
