//! The switch that stops all acting at once: `BreakGlass` (rampart.dev/v1alpha1,
//! cluster-scoped).
//!
//! Any engaged BreakGlass object stops every engine replica from writing anything but reverts;
//! with `revertAll` the leader also withdraws every active Mitigation. One object is enough
//! (`kubectl apply`, or `rampart engine break-glass on`), and several people may each hold
//! their own: acting resumes only once none is engaged.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One hand on the switch.
#[derive(CustomResource, Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "rampart.dev",
    version = "v1alpha1",
    kind = "BreakGlass",
    plural = "breakglasses",
    shortname = "bg",
    doc = "Stops rampart's engine from acting while engaged; with revertAll, withdraws every active Mitigation.",
    printcolumn = r#"{"name":"Engaged","type":"boolean","jsonPath":".spec.engaged"}"#,
    printcolumn = r#"{"name":"Revert-All","type":"boolean","jsonPath":".spec.revertAll"}"#,
    printcolumn = r#"{"name":"Set-By","type":"string","jsonPath":".spec.setBy"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".spec.reason","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct BreakGlassSpec {
    /// Whether acting is stopped. Defaults to true: an object applied with an empty spec
    /// engages the brake (fail safe).
    #[serde(default = "engaged")]
    pub engaged: bool,
    /// Also withdraw (revert) every Proposed and Applied Mitigation while engaged.
    #[serde(default)]
    pub revert_all: bool,
    /// Why, in words (shown on the dashboard and in the Event).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// Who set it, as written (`rampart engine break-glass` writes the user the API server
    /// authenticated; the API server's audit log is the authority).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub set_by: String,
}

fn engaged() -> bool {
    true
}

impl Default for BreakGlassSpec {
    fn default() -> BreakGlassSpec {
        BreakGlassSpec {
            engaged: true,
            revert_all: false,
            reason: String::new(),
            set_by: String::new(),
        }
    }
}
