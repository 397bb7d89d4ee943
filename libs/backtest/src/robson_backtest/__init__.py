"""robson backtest: the services' own code wired in one process over in-memory ports"""
