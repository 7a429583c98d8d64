# Runs COMMAND (a ;-list) and passes only if it exits non-zero AND its output matches REGEX.
#   cmake -DCOMMAND="prog;arg1;arg2" -DREGEX="..." [-DABSENT="file;..."] -P expect_failure.cmake
# ABSENT lists files the failed command must not have created (no partial outputs).
execute_process(COMMAND ${COMMAND} RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(result EQUAL 0)
  message(FATAL_ERROR "expected a failure, the command succeeded:\n${out}${err}")
endif()
if(NOT "${out}${err}" MATCHES "${REGEX}")
  message(FATAL_ERROR "exit status ${result}, but the output does not match '${REGEX}':\n${out}${err}")
endif()
foreach(path IN LISTS ABSENT)
  if(EXISTS "${path}")
    message(FATAL_ERROR "the failed command left '${path}' behind")
  endif()
endforeach()
message(STATUS "failed as expected (exit status ${result}): ${err}")
