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

#[test]
fn every_secured_operation_says_who_may_call_it() {
    let spec = serde_json::to_value(fieldcrm::openapi::spec()).unwrap();
    let schemes = &spec["components"]["securitySchemes"];
    assert!(schemes["user_token"]["scheme"] == "bearer");
    assert!(schemes["api_key"]["scheme"] == "bearer");
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let secured = operation["security"]
                .as_array()
                .is_some_and(|s| !s.is_empty());
            let text = format!("{} {}", operation["summary"], operation["description"]);
            let by_device = operation["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.get("device_token").is_some()));
            if by_device {
                assert!(
                    text.contains("device token") && operation["responses"]["401"].is_object(),
                    "{method} {path} must say it takes a device token, and document 401"
                );
            } else if secured {
                assert!(
                    text.contains("Roles:"),
                    "{method} {path} must name its roles"
                );
                // Written from the permission table, but for the two operations
                // that need a signed-in caller and no action.
                let from_table = fieldcrm_domain::Action::ALL
                    .into_iter()
                    .any(|action| text.contains(&action.roles_line()));
                let signed_in_only = ["/v1/me", "/v1/auth/logout"].contains(&path.as_str());
                assert!(
                    from_table != signed_in_only,
                    "{method} {path}: its roles line must come from `Permission: `Action`.`"
                );
                assert!(
                    !text.contains("Permission:") && !text.contains("{pe"),
                    "{method} {path}: a permission mark or a stage word was left unfilled"
                );
                // The key scope in the requirements is the one the roles line names.
                let key_scope = operation["security"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find_map(|r| r["api_key"].as_array().map(|s| s[0].clone()));
                let named = ["read", "write"]
                    .into_iter()
                    .find(|scope| text.contains(&format!("API keys: `{scope}`")));
                assert_eq!(
                    key_scope.as_ref().and_then(|s| s.as_str()),
                    named,
                    "{method} {path}: the api_key requirement and the roles line differ"
                );
                assert!(
                    operation["responses"]["401"].is_object(),
                    "{method} {path} must document 401"
                );
            } else {
                assert!(
                    text.contains("Public"),
                    "{method} {path} must say it is public"
                );
            }
        }
    }
}

/// The README's permission table is the one the code enforces.
#[test]
fn readme_permission_table_matches_the_code() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let table = fieldcrm_domain::permissions::markdown_table();
    assert!(
        readme.contains(&table),
        "README.md's permission table differs from crates/domain/src/permissions.rs; paste this:\n\n{table}"
    );
}
