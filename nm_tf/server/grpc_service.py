"""gRPC ``tensorflow.serving.PredictionService`` (Predict, GetModelMetadata) over a ModelStore."""

from __future__ import annotations

import grpc
import tensorflow as tf
from tensorflow_serving.apis import (get_model_metadata_pb2, get_model_status_pb2, model_service_pb2_grpc,
                                     predict_pb2, prediction_service_pb2_grpc)

import numpy as np

from .store import DEFAULT_SIGNATURE, ServingError

__all__ = ["ModelService", "PredictionService"]

_CODES = {"INVALID_ARGUMENT": grpc.StatusCode.INVALID_ARGUMENT, "NOT_FOUND": grpc.StatusCode.NOT_FOUND,
          "RESOURCE_EXHAUSTED": grpc.StatusCode.RESOURCE_EXHAUSTED, "UNAVAILABLE": grpc.StatusCode.UNAVAILABLE}


def _proto_dtype(key, proto):
    """The NumPy dtype a TensorProto declares; types with no NumPy form (DT_RESOURCE, DT_VARIANT, ...) and
    unknown enums are INVALID_ARGUMENT."""
    try:
        dtype = tf.dtypes.as_dtype(proto.dtype)
        if dtype in (tf.resource, tf.variant) or dtype.is_quantized:
            raise TypeError(dtype.name)
        return np.dtype(dtype.as_numpy_dtype)
    except (TypeError, ValueError):
        raise ServingError("INVALID_ARGUMENT", f"input {key!r} has an unsupported dtype {proto.dtype}") from None


def _version_of(spec):
    """``(version, label)`` a ModelSpec names (both None: the latest)."""
    choice = spec.WhichOneof("version_choice")
    if choice == "version":
        return spec.version.value, None
    if choice == "version_label":
        return None, spec.version_label
    return None, None


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, store):
        self.store = store

    def _abort(self, context, err: ServingError):
        context.abort(_CODES.get(err.code, grpc.StatusCode.INTERNAL), err.message)

    def Predict(self, request, context):  # noqa: N802 - gRPC method name
        spec = request.model_spec
        try:
            version, label = _version_of(spec)
            model = self.store.get(spec.name, version, label)
            for key, proto in request.inputs.items():   # from the declared shape, before anything is decoded
                model.check_input(spec.signature_name, key, _proto_dtype(key, proto),
                                  [d.size for d in proto.tensor_shape.dim], self.store.max_samples)
            try:
                inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
            except Exception as exc:  # noqa: BLE001 - malformed TensorProto
                raise ServingError("INVALID_ARGUMENT", f"cannot decode input tensors: {exc}") from None
            model, outputs = self.store.run(spec.name, version, label, spec.signature_name, inputs,
                                            list(request.output_filter), checked_by=model)
        except ServingError as err:
            self._abort(context, err)
        response = predict_pb2.PredictResponse()
        response.model_spec.name = spec.name
        response.model_spec.version.value = model.version
        response.model_spec.signature_name = spec.signature_name or DEFAULT_SIGNATURE
        for key, value in outputs.items():
            response.outputs[key].CopyFrom(tf.make_tensor_proto(value))
        return response

    def GetModelMetadata(self, request, context):  # noqa: N802
        spec = request.model_spec
        if list(request.metadata_field) != ["signature_def"]:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          "metadata_field must be exactly ['signature_def']")
        try:
            model = self.store.get(spec.name, *_version_of(spec))
        except ServingError as err:
            self._abort(context, err)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = spec.name
        response.model_spec.version.value = model.version
        sig_map = get_model_metadata_pb2.SignatureDefMap()
        for key, sig in model.signatures.items():
            sig_map.signature_def[key].CopyFrom(sig)
        response.metadata["signature_def"].Pack(sig_map)
        return response


class ModelService(model_service_pb2_grpc.ModelServiceServicer):
    """``tensorflow.serving.ModelService.GetModelStatus`` (the REST ``GET /v1/models/NAME`` over gRPC)."""

    _STATES = {"START": 10, "LOADING": 20, "AVAILABLE": 30, "UNLOADING": 40, "END": 50}
    _ERRORS = {"OK": 0, "UNKNOWN": 2}

    def __init__(self, store):
        self.store = store

    def GetModelStatus(self, request, context):  # noqa: N802 - gRPC method name
        spec = request.model_spec
        try:
            status = self.store.status(spec.name, *_version_of(spec))
        except ServingError as err:
            context.abort(_CODES.get(err.code, grpc.StatusCode.INTERNAL), err.message)
        response = get_model_status_pb2.GetModelStatusResponse()
        for s in status:
            v = response.model_version_status.add()
            v.version = int(s["version"])
            v.state = self._STATES[s["state"]]
            v.status.error_code = self._ERRORS.get(s["status"]["error_code"], 2)
            v.status.error_message = s["status"]["error_message"]
        return response
