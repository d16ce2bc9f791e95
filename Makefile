# Thin wrappers over include/scripts: every target runs set-up itself when needed.
.PHONY: demo up down status test chaos soak cluster-test bench lint setup

demo:   ## everything, in the foreground, with the simulator; Ctrl-C stops what it started
	@bash include/scripts/demo.sh

up:     ## the same services in the background
	@bash include/scripts/services.sh up

down:
	@bash include/scripts/services.sh down

status:
	@bash include/scripts/services.sh status

test:   ## set-up, start test services, lint, all tests, stop
	@bash include/scripts/test.sh

chaos:  ## the long fault-injection run (kills, outages, hostile payloads), about 10 minutes
	@bash include/scripts/chaos.sh

soak:   ## the whole stack an hour under the field's load (make soak ARGS="--minutes 90")
	@bash include/scripts/soak.sh $(ARGS)

cluster-test:  ## Spark standalone (2 workers), 3 Kafka brokers, HDFS; a broker and a worker killed
	@bash include/scripts/cluster_test.sh $(ARGS)

bench:  ## throughput of each stage against its baselines (make bench ARGS="--events 200000")
	@bash include/scripts/bench.sh $(ARGS)

setup:
	@bash include/scripts/setup.sh all

lint:
	@bash include/scripts/setup.sh spark && .local/venv/spark/bin/ruff check . && .local/venv/spark/bin/ruff format --check .
