//! Collects generated requests up to a line budget and inside the simulated time range.

use super::event::Event;

pub(crate) struct Sink {
    pub events: Vec<Event>,
    budget: usize,
    end_ms: i64,
}

impl Sink {
    pub(crate) fn new(budget: usize, end_ms: i64) -> Self {
        Sink { events: Vec::with_capacity(budget), budget, end_ms }
    }

    /// Room left in the budget.
    pub(crate) fn remaining(&self) -> usize {
        self.budget - self.events.len()
    }

    /// Adds a request; false when the caller should stop its session or campaign (budget
    /// spent, or the request falls after the simulated range and so is dropped).
    pub(crate) fn push(&mut self, event: Event) -> bool {
        if self.events.len() >= self.budget || event.ts_ms >= self.end_ms {
            return false;
        }
        self.events.push(event);
        self.events.len() < self.budget
    }
}
