# Syntax-checks one source file as the CUDA build would compile it, on a machine without CUDA
# LibTorch: the CPU build's own compile command for it (from compile_commands.json, so the same
# flags and the same precompiled LibTorch header, which makes a check ~3x faster) plus
# DLBENCH_WITH_CUDA, the CUDA toolkit's headers and the stub of the one header LibTorch's CPU
# install lacks. A *_cuda.cc file, which the CPU build leaves out, borrows the command of
# TEMPLATE_SOURCE.
#
#   cmake -DCOMPILE_COMMANDS=<json> -DSOURCE=<file.cc> -DTEMPLATE_SOURCE=<file.cc>
#         -DEXTRA_FLAGS=<;-list> -P cuda_syntax_check.cmake
file(READ "${COMPILE_COMMANDS}" commands_json)
string(JSON entries LENGTH "${commands_json}")
math(EXPR last "${entries} - 1")
set(own_command "")
set(template_command "")
foreach(i RANGE ${last})
  string(JSON file GET "${commands_json}" ${i} file)
  string(JSON command GET "${commands_json}" ${i} command)
  if(file STREQUAL SOURCE)
    set(own_command "${command}")
  elseif(file STREQUAL TEMPLATE_SOURCE)
    set(template_command "${command}")
  endif()
endforeach()
if(own_command STREQUAL "")
  set(own_command "${template_command}")
endif()
if(own_command STREQUAL "")
  message(FATAL_ERROR "neither ${SOURCE} nor ${TEMPLATE_SOURCE} is in ${COMPILE_COMMANDS}")
endif()

separate_arguments(arguments UNIX_COMMAND "${own_command}")
# Drop the output and the input: `-o <object>` and `-c <source>`.
set(check_command)
set(skip_next FALSE)
foreach(argument IN LISTS arguments)
  if(skip_next)
    set(skip_next FALSE)
  elseif(argument STREQUAL "-o" OR argument STREQUAL "-c")
    set(skip_next TRUE)
  else()
    list(APPEND check_command "${argument}")
  endif()
endforeach()
list(APPEND check_command ${EXTRA_FLAGS} -DDLBENCH_WITH_CUDA=1 -Winvalid-pch -fsyntax-only
     "${SOURCE}")
execute_process(COMMAND ${check_command} RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "${SOURCE} does not compile with DLBENCH_WITH_CUDA")
endif()
