"""Media tools: ffmpeg graphs, pictures, caption drawing, fonts, speech."""
