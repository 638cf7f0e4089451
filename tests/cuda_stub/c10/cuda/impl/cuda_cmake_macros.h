// Stand-in for the header LibTorch generates in CUDA builds (Debian's CPU LibTorch ships the
// other c10/cuda headers without it). Used only by the cuda_paths_compile test.
#pragma once
#define C10_CUDA_BUILD_SHARED_LIBS
