//! Torch semantics: the callables and persistent ids a state dict is rebuilt from.
//! Nothing is executed; a fixed set of globals is interpreted and everything else
//! becomes an opaque value naming it.

use std::rc::Rc;

use super::value::{StorageRef, TensorRef, Value};
use crate::pth::DType;

pub(crate) fn is_dict_class(g: &(String, String)) -> bool {
    matches!(
        (g.0.as_str(), g.1.as_str()),
        ("collections", "OrderedDict") | ("builtins", "dict") | ("__builtin__", "dict")
    )
}

fn storage_dtype(g: &(String, String)) -> Option<DType> {
    if g.0 != "torch" {
        return None;
    }
    Some(match g.1.as_str() {
        "FloatStorage" => DType::F32,
        "DoubleStorage" => DType::F64,
        "HalfStorage" => DType::F16,
        "BFloat16Storage" => DType::BF16,
        "LongStorage" => DType::I64,
        "IntStorage" => DType::I32,
        "ShortStorage" => DType::I16,
        "CharStorage" => DType::I8,
        "ByteStorage" => DType::U8,
        "BoolStorage" => DType::Bool,
        _ => return None,
    })
}

/// torch's `persistent_load`: `('storage', storage_type, key, location, numel)`.
/// The location ('cpu', 'cuda:0', ...) is irrelevant to the bytes and is ignored.
pub(crate) fn persistent_load(pid: &Value) -> Result<Value, String> {
    let Value::Tuple(t) = pid else {
        return Err(format!(
            "persistent id is {}, expected a tuple",
            pid.describe()
        ));
    };
    match t.first() {
        Some(Value::Str(s)) if &**s == "storage" => {}
        Some(other) => {
            return Err(format!(
                "unsupported persistent id kind {}",
                other.describe()
            ));
        }
        None => return Err("empty persistent id".into()),
    }
    if t.len() != 5 {
        return Err(format!(
            "storage persistent id has {} fields, expected 5",
            t.len()
        ));
    }
    let Value::Global(class) = &t[1] else {
        return Err(format!(
            "storage type is {}, expected a global",
            t[1].describe()
        ));
    };
    let key = match &t[2] {
        Value::Str(s) => s.to_string(),
        Value::Int(i) => i.to_string(),
        other => return Err(format!("storage key is {}", other.describe())),
    };
    let numel = match &t[4] {
        Value::Int(n) if *n >= 0 => *n as u64,
        other => {
            return Err(format!(
                "storage '{key}' has element count {}",
                other.describe()
            ))
        }
    };
    match storage_dtype(class) {
        Some(dtype) => Ok(Value::Storage(Rc::new(StorageRef { dtype, key, numel }))),
        None => Ok(Value::Opaque(Rc::from(format!(
            "storage '{key}' of unsupported type {}.{}",
            class.0, class.1
        )))),
    }
}

fn int_tuple(v: &Value, what: &str) -> Result<Vec<u64>, String> {
    let items: Vec<Value> = match v {
        Value::Tuple(t) => t.to_vec(),
        Value::List(l) => l.borrow().clone(),
        other => {
            return Err(format!(
                "tensor {what} is {}, expected a tuple",
                other.describe()
            ))
        }
    };
    items
        .iter()
        .map(|x| match x {
            Value::Int(i) if *i >= 0 => Ok(*i as u64),
            other => Err(format!("tensor {what} contains {}", other.describe())),
        })
        .collect()
}

fn rebuild_tensor(args: &[Value], name: &str) -> Result<Value, String> {
    let storage = match &args[0] {
        Value::Storage(s) => s.clone(),
        // An unsupported storage type: the tensor is unusable but may be irrelevant.
        Value::Opaque(what) => {
            return Ok(Value::UnsupportedTensor(Rc::from(format!(
                "a tensor on {what}"
            ))))
        }
        other => return Err(format!("{name}: storage argument is {}", other.describe())),
    };
    let offset = match &args[1] {
        Value::Int(i) if *i >= 0 => *i as u64,
        other => return Err(format!("{name}: storage offset is {}", other.describe())),
    };
    let shape = int_tuple(&args[2], "size")?;
    let stride = int_tuple(&args[3], "stride")?;
    Ok(Value::Tensor(Rc::new(TensorRef {
        storage,
        offset,
        shape,
        stride,
    })))
}

/// Interprets REDUCE of the callables torch's state dicts use.
pub(crate) fn call(callable: &Value, args: &[Value]) -> Result<Value, String> {
    let Value::Global(g) = callable else {
        return Ok(Value::Opaque(Rc::from(format!(
            "the result of calling {}",
            callable.describe()
        ))));
    };
    let (module, name) = (g.0.as_str(), g.1.as_str());
    let arity = |ok: bool| {
        if ok {
            Ok(())
        } else {
            Err(format!(
                "{module}.{name} called with {} arguments",
                args.len()
            ))
        }
    };
    match (module, name) {
        _ if is_dict_class(g) => {
            let d = Value::new_dict();
            if let Some(items) = args.first() {
                arity(args.len() == 1)?;
                let pairs: Vec<Value> = match items {
                    Value::List(l) => l.borrow().clone(),
                    Value::Tuple(t) => t.to_vec(),
                    other => return Err(format!("{module}.{name} of {}", other.describe())),
                };
                let Value::Dict(dict) = &d else {
                    unreachable!("just built a dict")
                };
                for p in pairs {
                    match p {
                        Value::Tuple(kv) if kv.len() == 2 => {
                            dict.borrow_mut().insert(kv[0].clone(), kv[1].clone())
                        }
                        other => {
                            return Err(format!("{module}.{name} item is {}", other.describe()))
                        }
                    }
                }
            }
            Ok(d)
        }
        ("torch._utils", "_rebuild_tensor_v2") => {
            // (storage, offset, size, stride, requires_grad, backward_hooks[, metadata])
            arity(args.len() == 6 || args.len() == 7)?;
            rebuild_tensor(args, name)
        }
        ("torch._utils", "_rebuild_tensor") => {
            arity(args.len() == 4)?;
            rebuild_tensor(args, name)
        }
        ("torch._utils", "_rebuild_parameter")
        | ("torch._utils", "_rebuild_parameter_with_state") => {
            // (data, requires_grad, backward_hooks[, state]): a Parameter is its data.
            arity(args.len() == 3 || args.len() == 4)?;
            Ok(args[0].clone())
        }
        ("torch._tensor", "_rebuild_from_type_v2") => {
            // (func, new_type, func_args, state): a Tensor subclass wrapping func(*func_args).
            arity(args.len() == 4)?;
            let Value::Tuple(inner) = &args[2] else {
                return Err(format!("{name}: arguments are {}", args[2].describe()));
            };
            call(&args[0], inner)
        }
        // Quantized, sparse, meta, nested and subclass tensors all rebuild through
        // `torch._utils._rebuild_*` (or `torch._tensor`) helpers.
        _ if module.starts_with("torch") && name.starts_with("_rebuild_") => {
            Ok(Value::UnsupportedTensor(Rc::from(format!(
                "a tensor built by unsupported global {module}.{name}"
            ))))
        }
        _ => Ok(Value::Opaque(Rc::from(format!(
            "an object built by unsupported global {module}.{name}"
        )))),
    }
}
