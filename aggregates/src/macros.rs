//! The cqrs-es glue every aggregate of this crate shares, written once.
//!
//! Each aggregate holds one record (`record: Option<…>`, `None` until imported) and answers a
//! command with at most one event, so the `Aggregate` impl is the same everywhere: `decide` turns
//! the command into the event (or refuses), the record's `evolve` applies a change. A macro rather
//! than a blanket impl, because cqrs-es's trait cannot be implemented generically here.

/// A status as eHealth writes it, each variant with its text given once: serde reads and writes
/// that text, `as_str` answers it, and `VALUES` lists every one in declaration order (the lists,
/// their OpenAPI enums and the data dictionary use it).
macro_rules! status_enum {
    (
        $(#[$meta:meta])*
        pub enum $status:ident { $($variant:ident = $text:literal),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        pub enum $status {
            $(#[serde(rename = $text)] $variant,)+
        }

        impl $status {
            /// Every value as written, in declaration order.
            pub const VALUES: &'static [&'static str] = &[$($text),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }
    };
}

/// `impl DomainEvent`: the event type is the variant's name (the name serde tags the payload
/// with, which the service matches on), the version [`crate::common::EVENT_VERSION`]. Every
/// variant must be listed, or the `match` does not compile.
macro_rules! domain_event {
    ($event:ident { $($variant:ident),+ $(,)? }) => {
        impl cqrs_es::DomainEvent for $event {
            fn event_type(&self) -> String {
                match self {
                    $(Self::$variant { .. } => stringify!($variant),)+
                }
                .to_string()
            }

            fn event_version(&self) -> String {
                crate::common::EVENT_VERSION.to_string()
            }
        }
    };
}

/// `impl Aggregate` and [`RecordAggregate`](crate::common::RecordAggregate) for
/// `$aggregate { record: Option<$record> }` whose `TYPE` is its name, given
/// `fn decide(&self, Command) -> Result<Option<Event>, Error>` on the aggregate and
/// `fn evolve(&mut self, Event)` on `$record`. Before the import the record is `None` and only the
/// import event (`$event::$imported(Box<$record>)`) changes anything.
macro_rules! record_aggregate {
    ($aggregate:ident($record:ty), $command:ty, $event:ident :: $imported:ident, $error:ty) => {
        impl crate::common::RecordAggregate for $aggregate {
            type Record = $record;

            fn imported(record: Box<$record>) -> $event {
                $event::$imported(record)
            }

            fn record(&self) -> Option<&$record> {
                self.record.as_ref()
            }
        }

        #[cfg(test)]
        impl crate::test_support::Imported for $record {
            type Aggregate = $aggregate;
        }

        impl cqrs_es::Aggregate for $aggregate {
            const TYPE: &'static str = stringify!($aggregate);
            type Command = $command;
            type Event = $event;
            type Error = $error;
            type Services = ();

            async fn handle(
                &mut self,
                command: Self::Command,
                _services: &Self::Services,
                sink: &cqrs_es::event_sink::EventSink<Self>,
            ) -> Result<(), Self::Error> {
                if let Some(event) = self.decide(command)? {
                    sink.write(event, self).await;
                }
                Ok(())
            }

            fn apply(&mut self, event: Self::Event) {
                match self.record.as_mut() {
                    Some(record) => record.evolve(event),
                    None => {
                        if let $event::$imported(record) = event {
                            self.record = Some(*record);
                        }
                    }
                }
            }
        }
    };
}
