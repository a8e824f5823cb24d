//! The task queue (`task_queue`): a broker worker, standing for Redis or RabbitMQ, and
//! its queue workers, standing for Celery's. Each server worker sends it a job per
//! `.delay()` through a `MessageChannel`; it keeps them first come first served and
//! hands each to a free queue worker, whose phases, prints and end it reports to the
//! page: the end of a request's log job is its background end.

use super::now_abs;
use super::pool::{self, Pool};
use super::protocol::{from_json, to_json, Enqueue, FromBroker, JobDone, Progress, ToBroker};
use super::worker::{post_to_parent, take_received_ports, Peer};
use loopscope::model::{Event, Place};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};

fn fail(message: String) {
    post_to_parent(&to_json(&FromBroker::Failed { message }));
}

struct Broker {
    queue: RefCell<Option<Rc<Pool>>>,
    /// The servers' ends, kept open.
    servers: RefCell<Vec<Peer>>,
    t0_abs: Cell<f64>,
    /// When each job was sent (`.delay()`), by job.
    asked: RefCell<HashMap<u64, f64>>,
}

impl Broker {
    fn post(&self, events: Vec<Event>) {
        if !events.is_empty() {
            post_to_parent(&to_json(&FromBroker::Events { events }));
        }
    }

    fn convert(&self, progress: Vec<Progress>) -> Vec<Event> {
        let t0 = self.t0_abs.get();
        progress.into_iter().map(|p| p.into_event(t0)).collect()
    }

    fn enqueue(&self, text: &str) {
        let job: Enqueue = match from_json(text) {
            Ok(j) => j,
            Err(e) => return fail(e),
        };
        let Some(queue) = self.queue.borrow().clone() else {
            return fail("a job reached the broker before its queue workers were ready".into());
        };
        let id = queue.submit(job.request, job.call, None, self.t0_abs.get());
        self.asked.borrow_mut().insert(id, job.asked_abs);
        let t0 = self.t0_abs.get();
        self.post(vec![Event::Began {
            request: job.request,
            kind: loopscope::model::PhaseKind::Queued,
            on: Place::Queue,
            blocking: false,
            t: job.asked_abs - t0,
            due: None,
        }]);
    }

    fn done(&self, job: u64) {
        let Some(done) = self.queue.borrow().as_ref().and_then(|q| q.take_done(job)) else {
            return fail(format!("queue job {job} came back without its result"));
        };
        let JobDone {
            request,
            progress,
            logged,
            start_abs,
            end_abs,
            result,
            ..
        } = done;
        let t0 = self.t0_abs.get();
        let asked = self.asked.borrow_mut().remove(&job).unwrap_or(start_abs);
        let mut events = vec![Event::Waited {
            request,
            on: Place::Queue,
            from: asked - t0,
            to: start_abs - t0,
        }];
        events.extend(self.convert(progress));
        if let Some(entry) = logged {
            events.push(Event::Logged { entry });
        }
        if let Err(raised) = result {
            events.push(Event::Print {
                request,
                t: end_abs - t0,
                text: format!("ERROR:    Task log_prediction_details raised: {raised}"),
            });
        }
        events.push(Event::BackgroundDone {
            request,
            t: end_abs - t0,
        });
        self.post(events);
    }
}

/// The broker's message handler.
pub fn start() -> Box<dyn FnMut(String)> {
    let broker = Rc::new(Broker {
        queue: RefCell::default(),
        servers: RefCell::default(),
        t0_abs: Cell::new(now_abs()),
        asked: RefCell::default(),
    });
    Box::new(move |text: String| match from_json::<ToBroker>(&text) {
        Ok(ToBroker::Setup {
            durations,
            hold,
            log,
            queue_workers,
            servers,
        }) => {
            let mut ports = take_received_ports();
            if ports.len() as u64 != queue_workers + servers {
                return fail(format!(
                    "the broker got {} ports for {queue_workers} queue workers and {servers} servers",
                    ports.len()
                ));
            }
            let server_ports = ports.split_off(queue_workers as usize);
            let b = broker.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let weak: Weak<Broker> = Rc::downgrade(&b);
                let progress_to = weak.clone();
                let progress = Box::new(move |p: Vec<Progress>| {
                    if let Some(b) = progress_to.upgrade() {
                        let events = b.convert(p);
                        b.post(events);
                    }
                });
                let done_to = weak.clone();
                let on_done = Box::new(move |done: Result<u64, String>| match (done, done_to.upgrade()) {
                    (Ok(job), Some(b)) => b.done(job),
                    (Err(message), _) => fail(message),
                    (Ok(_), None) => {}
                });
                let setup = pool::Setup {
                    durations,
                    hold,
                    log,
                    place: Place::Queue,
                    gil: false,
                    pickle_ms: 0.0,
                };
                let queue = match Pool::start(ports, setup, progress, on_done).await {
                    Ok(q) => q,
                    Err(e) => return fail(e),
                };
                *b.queue.borrow_mut() = Some(queue);
                let peers = server_ports
                    .into_iter()
                    .map(|port| {
                        let to = weak.clone();
                        Peer::new(port, move |text| {
                            if let Some(b) = to.upgrade() {
                                b.enqueue(&text);
                            }
                        })
                    })
                    .collect();
                *b.servers.borrow_mut() = peers;
                post_to_parent(&to_json(&FromBroker::Ready));
            });
        }
        Ok(ToBroker::Go { t0_abs }) => broker.t0_abs.set(t0_abs),
        Err(e) => fail(e),
    })
}
