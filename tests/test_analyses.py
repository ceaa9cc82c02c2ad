"""The analysis registry drives the config, the study's plan, the report and `lazy runs`;
the config stored with a run keeps the training sections only."""

import pytest
from pydantic import Field

from lazyartist_cli.config import EvalConfig, RunConfig, StudyConfig, load_config, validate_config
from lazyartist_cli.errors import ConfigError, UsageError
from lazyartist_cli.pipeline.analyses import ANALYSES, STUDY_ANALYSES, get_analysis, register
from lazyartist_cli.pipeline.listing import list_runs
from lazyartist_cli.pipeline.plan import analysed_runs, analysis_plan, study_runs
from lazyartist_cli.pipeline.report import RunFiles, run_report
from lazyartist_cli.pipeline.stored_config import TRAINING_SECTIONS, resolved_config
from lazyartist_cli.runs import write_json_atomic

OPTIONAL = [a for a in ANALYSES.values() if not a.always]


# ---------- the stored run config: an allow-list of training sections

def test_every_run_config_section_is_training_analysis_study_or_report():
    # a new section must be sorted here: a training section missing from TRAINING_SECTIONS would not be stored
    analyses = {a.section for a in ANALYSES.values()}
    assert set(RunConfig.model_fields) == set(TRAINING_SECTIONS) | analyses | {"study", "report"}
    assert not set(TRAINING_SECTIONS) & analyses


def test_resolved_config_keeps_the_training_sections_only():
    assert list(resolved_config(RunConfig())) == list(TRAINING_SECTIONS)


def test_other_analysis_study_and_report_sections_give_the_same_resolved_config():
    other = load_config(None, {
        "eval.batch_size": 64, "counterfactual.n_images": 7, "gradcam.method": "saliency", "probe.n_units": 3,
        "attack.steps": 2, "sae.epochs": 1, "study.seeds": 3, "study.analyses": ["probe"], "report.title": "x",
    })
    assert resolved_config(other) == resolved_config(RunConfig())


def test_a_new_non_training_section_leaves_the_resolved_config_alone():
    class WithNewAnalysis(RunConfig):
        new_analysis: EvalConfig = Field(default_factory=EvalConfig)

    assert resolved_config(WithNewAnalysis()) == resolved_config(RunConfig())


@pytest.mark.parametrize("key,value", [
    ("seed", 1), ("device", "cpu"), ("data.correlation", 0.9), ("train.epochs", 3), ("strategy.focal.gamma", 1.0),
])
def test_each_training_section_changes_the_resolved_config(key, value):
    same = {"train.name": "same", "train.strategy": "focal"}
    assert resolved_config(load_config(None, {key: value, **same})) != resolved_config(load_config(None, same))


# ---------- the registry

def test_registry_order_and_unknown_name():
    assert list(ANALYSES) == ["eval", "counterfactual", "gradcam", "probe", "attack", "sae"]
    assert get_analysis("probe").section == "probe"
    with pytest.raises(UsageError, match=r"unknown analysis 'x'; valid: eval, counterfactual, gradcam, probe, attack, sae$"):
        get_analysis("x")


def test_registering_a_name_twice_is_an_error():
    with pytest.raises(ValueError, match="registered twice"):
        register(ANALYSES["sae"])
    assert list(ANALYSES)[-1] == "sae"


@pytest.mark.parametrize("analysis", ANALYSES.values(), ids=list(ANALYSES))
def test_runner_loads_the_pipeline_function(analysis):
    fn = analysis.runner()
    assert fn.__name__ == f"run_{analysis.name}" and analysis.section in RunConfig.model_fields


# ---------- study.analyses is validated from the registry

@pytest.mark.parametrize("analysis", OPTIONAL, ids=[a.name for a in OPTIONAL])
def test_study_accepts_each_optional_analysis(analysis):
    assert StudyConfig(analyses=[analysis.name]).analyses == [analysis.name]


def test_study_defaults_to_every_optional_analysis_and_rejects_others():
    assert StudyConfig().analyses == list(STUDY_ANALYSES) == [a.name for a in OPTIONAL]
    for bad in ("x", "eval"):  # eval always runs: it is not a choice
        with pytest.raises(ConfigError) as exc:
            validate_config({"study": {"analyses": [bad]}})
        assert exc.value.problems == [f"study.analyses: unknown analysis {bad!r}; valid: counterfactual, gradcam, probe, attack, sae"]


# ---------- the study's plan

def _plan(**over):
    cfg = load_config(None, {f"study.{k}": v for k, v in over.items()})
    every = tuple(s.name for s in study_runs(cfg))
    first = tuple(s.name for s in analysed_runs(cfg))
    return cfg, [(st.analysis.name, st.runs) for st in analysis_plan(cfg)], every, first


@pytest.mark.parametrize("analysis", OPTIONAL, ids=[a.name for a in OPTIONAL])
def test_plan_runs_eval_and_each_chosen_analysis_on_its_scope(analysis):
    _, plan, every, first = _plan(analyses=[analysis.name])
    assert plan == [("eval", every), (analysis.name, every if analysis.scope == "every" else first)]


def test_plan_default_two_seeds():
    cfg, plan, every, first = _plan(seeds=2)
    later = ("lazy-cnn-erm-s1", "lazy-cnn-consistency-s1", "lazy-cnn-spectral-decoupling-s1", "lazy-cnn-group-dro-s1")
    assert first == ("lazy-cnn-erm-s0", "lazy-cnn-consistency-s0", "lazy-cnn-spectral-decoupling-s0", "lazy-cnn-group-dro-s0")
    assert len(every) == 10
    assert plan == [("eval", every), ("counterfactual", every), ("gradcam", first), ("probe", first),
                    ("attack", first), ("sae", first), ("attack", later)]
    steps = analysis_plan(cfg)
    assert all(st.options is getattr(cfg, st.analysis.section) for st in steps[:-1])
    assert steps[-1].options.pairs_only and not cfg.attack.pairs_only


def test_plan_without_the_later_seeds_attack():
    assert [n for n, _ in _plan(seeds=2, attack_every_seed=False)[1]][-1] == "sae"
    assert [n for n, _ in _plan(seeds=2, analyses=["gradcam"])[1]] == ["eval", "gradcam"]
    assert [n for n, _ in _plan(seeds=1)[1]][-1] == "sae"  # no later seed


# ---------- listing and report read the registry

@pytest.mark.parametrize("analysis", ANALYSES.values(), ids=list(ANALYSES))
def test_listing_marks_each_analysis_by_its_artifact(tmp_path, analysis):
    write_json_atomic(tmp_path / "r" / "config.json", {"config": {"seed": 0}})
    write_json_atomic(tmp_path / "r" / analysis.artifact / "summary.json" if analysis.name == "gradcam"
                      else tmp_path / "r" / analysis.artifact, {})
    assert list_runs(tmp_path)[0]["analyses"] == [analysis.name]


def test_report_lists_each_optional_analysis_on_its_scope_as_not_run(tmp_path):
    cfg = load_config(None, {"study.seeds": 2})
    assert all(hasattr(RunFiles(tmp_path, "r", "gradcam"), a.name) for a in ANALYSES.values())
    rep = run_report(cfg, tmp_path)
    not_run = [x["what"] for sec in rep["sections"] for x in sec["not_run"]]
    for a in OPTIONAL:
        runs = study_runs(cfg) if a.scope == "every" else analysed_runs(cfg)
        assert [w for w in not_run if w.startswith(f"{a.name} on ")] == [f"{a.name} on {s.name}" for s in runs]
