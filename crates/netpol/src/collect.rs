//! Flows reduced as they arrive: endpoints interned, each flow folded to a compact record and
//! counted. A million flows between a few thousand pods cost a few megabytes, and attribution
//! later looks at each distinct endpoint once.

use std::collections::HashMap;

use rampart_graph::ports::Protocol;
use serde::Serialize;

use crate::flow::{Endpoint, Flow, Verdict};

/// An interned endpoint.
pub type EndpointId = u32;

/// One flow with its endpoints interned and its ephemeral port dropped when the capture says
/// which side replied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Record {
    /// The side that opened the connection (or the packet's sender, when unknown).
    pub client: EndpointId,
    /// The other side.
    pub server: EndpointId,
    /// Protocol.
    pub protocol: Protocol,
    /// The server's port (when the direction is known) or the packet's destination port.
    pub port: u16,
    /// The packet's source port when the direction is not known (0 otherwise).
    pub other_port: u16,
    /// Whether the capture said which side opened the connection.
    pub oriented: bool,
    /// Whether the packet was dropped.
    pub dropped: bool,
    /// A DNS record.
    pub dns: bool,
}

/// What collecting met, beyond the records.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CollectTally {
    /// Flows offered.
    pub flows: u64,
    /// Flows that passed (forwarded, redirected to a proxy, audit).
    pub forwarded: u64,
    /// Flows dropped.
    pub dropped: u64,
    /// Flows NetworkPolicy cannot express (ICMP and other protocols without ports).
    pub not_l4: u64,
    /// Flows with an endpoint nothing is known of (field masks, errors).
    pub unknown_endpoint: u64,
    /// Replies folded into the connection they answer.
    pub replies: u64,
    /// Flows not kept because the record limit was reached.
    pub over_limit: u64,
}

/// The collected flows.
#[derive(Debug, Clone)]
pub struct Collector {
    index: HashMap<Endpoint, EndpointId>,
    endpoints: Vec<Endpoint>,
    records: HashMap<Record, u64>,
    max_records: usize,
    /// What collecting met.
    pub tally: CollectTally,
}

impl Default for Collector {
    fn default() -> Self {
        Collector::new(4_000_000)
    }
}

impl Collector {
    /// An empty collector keeping at most `max_records` distinct records (and as many
    /// endpoints).
    pub fn new(max_records: usize) -> Collector {
        Collector {
            index: HashMap::new(),
            endpoints: Vec::new(),
            records: HashMap::new(),
            max_records,
            tally: CollectTally::default(),
        }
    }

    /// Takes one flow.
    pub fn add(&mut self, flow: Flow) {
        self.tally.flows += 1;
        let dropped = match flow.verdict {
            Verdict::Forwarded | Verdict::Audit => {
                self.tally.forwarded += 1;
                false
            }
            Verdict::Dropped => {
                self.tally.dropped += 1;
                true
            }
            Verdict::Other => return,
        };
        let Some(protocol) = flow.protocol else {
            self.tally.not_l4 += 1;
            return;
        };
        if flow.src.is_unknown() || flow.dst.is_unknown() || flow.dst_port == 0 {
            self.tally.unknown_endpoint += 1;
            return;
        }
        let reply = flow.reply == Some(true);
        let oriented = flow.reply.is_some() || flow.syn;
        if reply {
            self.tally.replies += 1;
        }
        let (client, server, port, other) = if reply {
            (flow.dst, flow.src, flow.src_port, 0)
        } else if oriented {
            (flow.src, flow.dst, flow.dst_port, 0)
        } else {
            (flow.src, flow.dst, flow.dst_port, flow.src_port)
        };
        if port == 0 {
            self.tally.unknown_endpoint += 1;
            return;
        }
        let (Some(client), Some(server)) = (self.intern(client), self.intern(server)) else {
            self.tally.over_limit += 1;
            return;
        };
        let record = Record {
            client,
            server,
            protocol,
            port,
            other_port: other,
            oriented,
            dropped,
            dns: flow.dns,
        };
        if let Some(n) = self.records.get_mut(&record) {
            *n += 1;
        } else if self.records.len() < self.max_records {
            self.records.insert(record, 1);
        } else {
            self.tally.over_limit += 1;
        }
    }

    fn intern(&mut self, e: Endpoint) -> Option<EndpointId> {
        if let Some(&id) = self.index.get(&e) {
            return Some(id);
        }
        if self.endpoints.len() >= self.max_records {
            return None;
        }
        let id = self.endpoints.len() as EndpointId;
        self.endpoints.push(e.clone());
        self.index.insert(e, id);
        Some(id)
    }

    /// The distinct endpoints, by id.
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// The distinct records and how often each was seen.
    pub fn records(&self) -> impl Iterator<Item = (&Record, u64)> + '_ {
        self.records.iter().map(|(r, n)| (r, *n))
    }

    /// How many distinct records are kept.
    pub fn record_count(&self) -> usize {
        self.records.len()
    }

    /// Forgets the records (the endpoints stay interned: they are few and come back).
    pub fn clear_records(&mut self) {
        self.records.clear();
    }
}
