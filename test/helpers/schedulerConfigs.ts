// Scheduler configs shared by the scheduler unit tests.

/** The SD 1.x scheduler_config.json (PNDMScheduler, as shipped by runwayml/stable-diffusion-v1-5). */
export const SD15 = {
  _class_name: "PNDMScheduler",
  _diffusers_version: "0.6.0",
  beta_end: 0.012,
  beta_schedule: "scaled_linear",
  beta_start: 0.00085,
  num_train_timesteps: 1000,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  trained_betas: null,
  clip_sample: false,
} as const;
