# sdr_embed_file(TARGET INPUT SYMBOL [DEFLATE]): compiles INPUT's bytes into TARGET as
# sdr::embedded::SYMBOL / SYMBOL_size / SYMBOL_raw_size (see tools/embed_file.cc). The source is
# regenerated whenever INPUT changes.
function(sdr_embed_file target input symbol)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/embedded_${symbol}.cc)
  set(flags)
  if(ARGN STREQUAL "DEFLATE")
    set(flags --deflate)
  endif()
  add_custom_command(
    OUTPUT ${out}
    COMMAND sdr_embed_file ${input} ${out} ${symbol} ${flags}
    DEPENDS sdr_embed_file ${input}
    COMMENT "Embedding ${input} as ${symbol}"
    VERBATIM)
  target_sources(${target} PRIVATE ${out})
endfunction()
