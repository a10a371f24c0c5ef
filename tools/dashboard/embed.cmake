# The dashboard's files as C arrays for serve (tools/segstream/dashboard.c), so the binary
# serves the page with no files and no network at run time:
#   cmake -DSRC=tools/dashboard -DOUT=dashboard_files.c -P embed.cmake
set(files index.html vendor/chart.js-4.5.1/chart.umd.min.js)
set(names cli_dashboard_index_html cli_dashboard_chart_js)
file(WRITE ${OUT} "/* Generated from tools/dashboard by embed.cmake: do not edit. */\n#include <stddef.h>\n")
foreach(i RANGE 1)
  list(GET files ${i} f)
  list(GET names ${i} name)
  file(READ ${SRC}/${f} hex HEX)
  string(LENGTH "${hex}" n)
  math(EXPR bytes "${n} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
  file(APPEND ${OUT} "const unsigned char ${name}[] = {${body} 0};\nconst size_t ${name}_len = ${bytes};\n")
endforeach()
