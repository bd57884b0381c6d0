"""Development machinery for the face rig; the product (emo_app) never imports it."""
