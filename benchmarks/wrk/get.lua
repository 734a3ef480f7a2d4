-- GET the URL given to wrk; only the report is added.
dofile(os.getenv("WRK_DIR") .. "/report.lua")
