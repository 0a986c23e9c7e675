//! The optional ONNX Runtime backend of [`crate::detect::BlazeFace`] (feature `onnxruntime`),
//! through the `ort` crate, loading the runtime's shared library at run time from a path given
//! in the configuration (`load-dynamic`: nothing is linked or downloaded at build time).
//! ONNX Runtime allows one environment per process; the first library loaded is the one used.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, TryLockError};

use crate::detect::{DetectError, ModelError};

/// The model's output names, in the order of [`crate::detect::BlazeFace::infer`].
const OUTPUTS: [&str; 4] = ["Identity:0", "Identity_1:0", "Identity_2:0", "Identity_3:0"];

pub(crate) struct Session {
    // `ort::session::Session::run` takes `&mut self`: one session per core, each behind its
    // lock, so that as many detections run at once as there are cores (with one, sessions
    // analysed together queued for it and the engine kept up with a sixth fewer of them).
    sessions: Vec<Mutex<ort::session::Session>>,
    next: AtomicUsize,
}

fn environment(library: &Path) -> Result<&'static ort::environment::Environment, ModelError> {
    static ENVIRONMENT: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();
    ENVIRONMENT
        .get_or_init(|| {
            ort::init_from(library)
                .map_err(|error| {
                    format!(
                        "cannot load ONNX Runtime from {}: {error}",
                        library.display()
                    )
                })?
                .with_name("openliveness")
                .build()
                .map_err(|error| error.to_string())
        })
        .as_ref()
        .map_err(|error| ModelError::Build(error.clone()))
}

impl Session {
    pub(crate) fn new(library: &Path, model: &[u8]) -> Result<Self, ModelError> {
        let build = |error: ort::Error| ModelError::Build(format!("ONNX Runtime: {error}"));
        if !library.is_file() {
            return Err(ModelError::OnnxRuntimeMissing {
                path: library.display().to_string(),
            });
        }
        let environment = environment(library)?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let sessions = (0..cores)
            .map(|_| {
                let session = ort::session::Session::builder(environment)
                    .map_err(build)?
                    .with_optimization_level(ort::session::builder::GraphOptimizationLevel::Level3)
                    .map_err(|error| build(error.into()))?
                    .with_intra_threads(1)
                    .map_err(|error| build(error.into()))?
                    .with_inter_threads(1)
                    .map_err(|error| build(error.into()))?
                    .commit_from_memory(model)
                    .map_err(build)?;
                Ok(Mutex::new(session))
            })
            .collect::<Result<Vec<_>, ModelError>>()?;
        Ok(Self {
            sessions,
            next: AtomicUsize::new(0),
        })
    }

    /// A free session, else the next one in turn once it is free.
    fn session(&self) -> Result<MutexGuard<'_, ort::session::Session>, DetectError> {
        let poisoned = || DetectError::Inference("an earlier inference panicked".into());
        let count = self.sessions.len();
        let first = self.next.fetch_add(1, Ordering::Relaxed) % count;
        for offset in 0..count {
            match self.sessions[(first + offset) % count].try_lock() {
                Ok(session) => return Ok(session),
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Poisoned(_)) => return Err(poisoned()),
            }
        }
        self.sessions[first].lock().map_err(|_| poisoned())
    }

    /// Runs the model on a 1x128x128x3 input and hands each output, in order, to `collect`.
    pub(crate) fn run(
        &self,
        input: &[f32],
        mut collect: impl FnMut(usize, &[f32]) -> Result<(), DetectError>,
    ) -> Result<(), DetectError> {
        let fail = |error: ort::Error| DetectError::Inference(format!("ONNX Runtime: {error}"));
        let side = crate::detect::BlazeFace::INPUT_SIDE as usize;
        let tensor = ort::value::TensorRef::from_array_view(([1usize, side, side, 3], input))
            .map_err(fail)?;
        let mut session = self.session()?;
        let outputs = session.run(ort::inputs![tensor]).map_err(fail)?;
        for (index, name) in OUTPUTS.iter().enumerate() {
            let output = outputs
                .get(name)
                .ok_or_else(|| DetectError::Inference(format!("output {name} is missing")))?;
            let (_, values) = output.try_extract_tensor::<f32>().map_err(fail)?;
            collect(index, values)?;
        }
        Ok(())
    }
}
