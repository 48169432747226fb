//! The harness reads the reports of wrk and pgbench; these are theirs, verbatim.

use fieldcrm_bench::load::parse_wrk;

const REPORT: &str = "Running 10s test @ http://127.0.0.1:40123
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.61ms    1.05ms  21.87ms   78.25%
    Req/Sec     6.21k   512.33     7.40k    70.00%
  Latency Distribution
     50%    2.43ms
     75%    3.05ms
     90%    3.86ms
     99%    6.12ms
  123611 requests in 10.01s, 98.21MB read
  Non-2xx or 3xx responses: 3
Requests/sec:  12348.70
Transfer/sec:      9.81MB
";

#[test]
fn reads_rate_percentiles_and_errors() {
    let latency = parse_wrk(REPORT).unwrap();
    assert_eq!(latency.requests, 123_611);
    assert!((latency.requests_per_sec - 12_348.70).abs() < 0.01);
    assert!((latency.p50_ms - 2.43).abs() < 1e-9);
    assert!((latency.p99_ms - 6.12).abs() < 1e-9);
    assert_eq!(latency.non_2xx, 3);
}

#[test]
fn converts_units_to_milliseconds() {
    let report = REPORT
        .replace("2.43ms", "870.00us")
        .replace("6.12ms", "1.20s");
    let latency = parse_wrk(&report).unwrap();
    assert!((latency.p50_ms - 0.87).abs() < 1e-9);
    assert!((latency.p99_ms - 1200.0).abs() < 1e-9);
}

#[test]
fn a_run_without_requests_is_an_error() {
    assert!(parse_wrk("Running 1s test @ http://127.0.0.1:1\n").is_err());
}

/// Lines of pgbench's per-transaction log (`-l`), verbatim: client, transaction,
/// latency in µs, script, epoch seconds, µs.
const PGBENCH_LOG: &str = "0 1 433 1 1796092829 426048
0 2 86 0 1796092829 426149
0 3 26 1 1796092829 426177
";

#[test]
fn reads_latencies_from_pgbench_log() {
    let micros = fieldcrm_bench::load::parse_pgbench_log(PGBENCH_LOG);
    assert_eq!(micros, vec![433.0, 86.0, 26.0]);
}

#[test]
fn takes_only_pgbench_logs_for_pgbench_logs() {
    use fieldcrm_bench::load::is_pgbench_log;
    assert!(is_pgbench_log("search", "search.21597"));
    assert!(is_pgbench_log("search", "search.21597.1"));
    for other in [
        "search.lua",
        "search-3.sql",
        "search.",
        "searches.21597",
        "search",
    ] {
        assert!(!is_pgbench_log("search", other), "{other}");
    }
}
