"""What the test suites share: free ports, tool requirements and the strict mode, exposition
parsing, the exporter against the simulator, the loopback-only network guard. Nothing here is a
test; test modules import from here and never from one another."""
