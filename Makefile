# Shortcuts for developers; setup.sh does the work (and installs packages).
.PHONY: run test build bench fuzz format
run:
	./setup.sh run
test:
	./setup.sh test
build:
	./setup.sh build
bench:
	./setup.sh bench
format:
	clang-format -i $$(git ls-files '*.cc' '*.h')
