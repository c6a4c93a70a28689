"""`spacy-radlabels.numpy_matmul.v1`: a CPU pipeline's matrix products through numpy's BLAS.

thinc's NumpyOps multiplies float32 matrices with the BLIS it bundles. On the machine this
package is developed on, numpy's BLAS (OpenBLAS in numpy's wheels, MKL in some builds) is
three to four times faster at the tok2vec's shapes and can use every core
(`benchmarks/matmul.py` measures both side by side). The callback moves every layer of the
pipeline to numpy's matrix product; a pipeline on GPU (CupyOps) is left as it is. The number
of threads follows OPENBLAS_NUM_THREADS / OMP_NUM_THREADS: set it to 1 when several
labelling processes share the cores.
"""

from typing import Callable

from spacy.language import Language
from spacy.util import registry
from thinc.api import NumpyOps

from .loading import pipeline_nodes


def use_numpy_matmul(nlp: Language) -> Language:
    """Give every CPU layer of the pipeline NumpyOps that multiply matrices with numpy.

    nlp (Language): The pipeline, after its components are created.
    RETURNS (Language): The same pipeline.
    """
    ops = NumpyOps(use_blis=False)
    for node in pipeline_nodes(nlp):
        # Exactly NumpyOps: CupyOps (GPU) and other backends keep their own products.
        if type(node.ops) is NumpyOps:
            node.ops = ops
    return nlp


@registry.callbacks("spacy-radlabels.numpy_matmul.v1")
def make_numpy_matmul() -> Callable[[Language], Language]:
    """Make the `[nlp.after_pipeline_creation]` callback `use_numpy_matmul`.

    RETURNS (Callable[[Language], Language]): The callback.
    """
    return use_numpy_matmul
