# The CUDA backend module (libsdr-cuda.so, src/backends/cuda): whether and for which GPUs it is built.
#
#   SDR_CUDA=AUTO (default)  build it when nvcc and cuBLASLt are found (CUDA 12/13 under /usr/local/cuda is
#                            found without help); otherwise skip it, with one configure line saying why
#   SDR_CUDA=ON              build it or fail configuring
#   SDR_CUDA=OFF             never build it
#
# The main library and `sdr` never link CUDA: they dlopen the module at run time (backends/cuda_loader.h),
# so one build runs on machines with or without a GPU, a driver or the CUDA libraries.
# Architectures: real sm_80/86/89/90 plus compute_90 PTX, unless CMAKE_CUDA_ARCHITECTURES is given
# (use one, e.g. -DCMAKE_CUDA_ARCHITECTURES=90, while iterating: each one multiplies the compile time).
# Sets SDR_CUDA_ENABLED (ON/OFF) and SDR_CUDA_STATUS (one line).
set(SDR_CUDA AUTO CACHE STRING "Build the CUDA backend module libsdr-cuda.so: AUTO, ON or OFF")
set_property(CACHE SDR_CUDA PROPERTY STRINGS AUTO ON OFF)
string(TOUPPER "${SDR_CUDA}" _sdr_cuda)
if(NOT _sdr_cuda MATCHES "^(AUTO|ON|OFF)$")
  message(FATAL_ERROR "SDR_CUDA='${SDR_CUDA}' is not AUTO, ON or OFF")
endif()

set(SDR_CUDA_ENABLED OFF)
set(_sdr_cuda_why "")
if(_sdr_cuda STREQUAL "OFF")
  set(_sdr_cuda_why "SDR_CUDA=OFF")
else()
  if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX} AND EXISTS /usr/local/cuda/bin/nvcc)
    set(ENV{CUDACXX} /usr/local/cuda/bin/nvcc)
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(NOT CMAKE_CUDA_COMPILER)
    set(_sdr_cuda_why "nvcc not found (put it on PATH, or set CUDACXX or CMAKE_CUDA_COMPILER)")
  else()
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 80-real 86-real 89-real 90-real 90-virtual)
    endif()
    enable_language(CUDA)
    find_package(CUDAToolkit)
    if(NOT CUDAToolkit_FOUND)
      set(_sdr_cuda_why "nvcc found at ${CMAKE_CUDA_COMPILER} but not the CUDA toolkit's libraries")
    elseif(NOT TARGET CUDA::cublasLt OR NOT TARGET CUDA::cudart_static)
      set(_sdr_cuda_why "the CUDA toolkit ${CUDAToolkit_VERSION} has no cuBLASLt or static cudart")
    elseif(CUDAToolkit_VERSION VERSION_LESS 12.0)
      set(_sdr_cuda_why "CUDA ${CUDAToolkit_VERSION} is older than 12.0")
    else()
      set(SDR_CUDA_ENABLED ON)
    endif()
  endif()
endif()

if(SDR_CUDA_ENABLED)
  string(REPLACE ";" " " _sdr_archs "${CMAKE_CUDA_ARCHITECTURES}")  # a list: no ';' in a C string
  set(SDR_CUDA_STATUS "building libsdr-cuda.so with CUDA ${CUDAToolkit_VERSION} for ${_sdr_archs}")
elseif(_sdr_cuda STREQUAL "ON")
  message(FATAL_ERROR "SDR_CUDA=ON but the CUDA backend cannot be built: ${_sdr_cuda_why}")
else()
  set(SDR_CUDA_STATUS "not built: ${_sdr_cuda_why}")
endif()
message(STATUS "CUDA backend: ${SDR_CUDA_STATUS}")
