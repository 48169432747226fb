use std::path::Path;

/// `openapi.yaml` at the top of the repository is what the handlers declare.
#[test]
fn checked_in_openapi_yaml_matches_the_handlers() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi.yaml");
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    let generated = fieldcrm::openapi::yaml();
    assert!(
        checked_in == generated,
        "openapi.yaml differs from the handlers' annotations; regenerate it with\n\n    cargo run -p fieldcrm -- openapi\n\nand commit the result"
    );
}

#[test]
fn every_error_response_is_documented_as_problem_json() {
    let spec = serde_json::to_value(fieldcrm::openapi::spec()).unwrap();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for (status, response) in operation["responses"].as_object().unwrap() {
                if status.starts_with('4') || status.starts_with('5') {
                    let content = &response["content"];
                    assert!(
                        content["application/problem+json"]["schema"]["$ref"]
                            == "#/components/schemas/Problem",
                        "{method} {path} {status} must document a Problem body"
                    );
                }
            }
        }
    }
}
