//! A minimal MaxMind DB writer for tests: an IPv4 search tree with 24-bit records, a
//! data section of maps, strings and unsigned integers, and the metadata map (MaxMind
//! DB File Format Specification, version 2.0). Enough to build small country and ASN
//! databases without shipping binary fixtures.

use std::net::Ipv4Addr;

/// A value of the data section.
pub enum Value {
    /// A UTF-8 string.
    Str(&'static str),
    /// An unsigned 32-bit integer.
    U32(u32),
    /// A map with string keys.
    Map(Vec<(&'static str, Value)>),
}

/// One node's two records.
#[derive(Clone, Copy)]
enum Rec {
    Empty,
    Node(usize),
    Data(usize),
}

/// Builds a database in memory.
#[derive(Default)]
pub struct MmdbWriter {
    nodes: Vec<[Rec; 2]>,
    data: Vec<u8>,
}

fn control(out: &mut Vec<u8>, kind: u8, size: usize) {
    assert!(size < 29, "test values are small");
    if kind <= 7 {
        out.push(kind << 5 | size as u8);
    } else {
        out.push(size as u8);
        out.push(kind - 7);
    }
}

fn encode(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Str(s) => {
            control(out, 2, s.len());
            out.extend_from_slice(s.as_bytes());
        }
        Value::U32(n) => {
            let bytes = n.to_be_bytes();
            let skip = bytes.iter().take_while(|&&b| b == 0).count();
            control(out, 6, 4 - skip);
            out.extend_from_slice(&bytes[skip..]);
        }
        Value::Map(entries) => {
            control(out, 7, entries.len());
            for (k, v) in entries {
                encode(out, &Value::Str(k));
                encode(out, v);
            }
        }
    }
}

fn uint16(out: &mut Vec<u8>, n: u16) {
    control(out, 5, 2);
    out.extend_from_slice(&n.to_be_bytes());
}

impl MmdbWriter {
    /// An empty database (every address unknown).
    pub fn new() -> MmdbWriter {
        MmdbWriter { nodes: vec![[Rec::Empty; 2]], data: Vec::new() }
    }

    /// Maps the network `addr/prefix` (1..=32) to `value`. Networks must not nest.
    pub fn insert(&mut self, addr: Ipv4Addr, prefix: u8, value: &Value) {
        let offset = self.data.len();
        encode(&mut self.data, value);
        let ip = u32::from(addr);
        let mut node = 0;
        for depth in 0..prefix {
            let bit = ((ip >> (31 - depth)) & 1) as usize;
            if depth + 1 == prefix {
                self.nodes[node][bit] = Rec::Data(offset);
                break;
            }
            node = match self.nodes[node][bit] {
                Rec::Node(n) => n,
                _ => {
                    self.nodes.push([Rec::Empty; 2]);
                    let n = self.nodes.len() - 1;
                    self.nodes[node][bit] = Rec::Node(n);
                    n
                }
            };
        }
    }

    /// The file bytes.
    pub fn finish(&self, database_type: &'static str) -> Vec<u8> {
        let count = self.nodes.len();
        let mut out = Vec::new();
        for node in &self.nodes {
            for rec in node {
                let v = match *rec {
                    Rec::Empty => count,
                    Rec::Node(n) => n,
                    Rec::Data(off) => count + 16 + off,
                } as u32;
                out.extend_from_slice(&v.to_be_bytes()[1..]);
            }
        }
        out.extend_from_slice(&[0; 16]);
        out.extend_from_slice(&self.data);
        out.extend_from_slice(b"\xab\xcd\xefMaxMind.com");
        // The metadata map, with the integer widths the specification gives.
        control(&mut out, 7, 9);
        encode(&mut out, &Value::Str("node_count"));
        encode(&mut out, &Value::U32(count as u32));
        encode(&mut out, &Value::Str("record_size"));
        uint16(&mut out, 24);
        encode(&mut out, &Value::Str("ip_version"));
        uint16(&mut out, 4);
        encode(&mut out, &Value::Str("database_type"));
        encode(&mut out, &Value::Str(database_type));
        encode(&mut out, &Value::Str("languages"));
        control(&mut out, 11, 1);
        encode(&mut out, &Value::Str("en"));
        encode(&mut out, &Value::Str("binary_format_major_version"));
        uint16(&mut out, 2);
        encode(&mut out, &Value::Str("binary_format_minor_version"));
        uint16(&mut out, 0);
        encode(&mut out, &Value::Str("build_epoch"));
        control(&mut out, 9, 8);
        out.extend_from_slice(&1_772_455_200u64.to_be_bytes());
        encode(&mut out, &Value::Str("description"));
        encode(&mut out, &Value::Map(vec![("en", Value::Str("anomalog test database"))]));
        out
    }
}
